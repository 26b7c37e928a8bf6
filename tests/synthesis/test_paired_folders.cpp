// Pairing of rainy and clean folders (tools/paired_folders.hpp), as derain-eval uses it.
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "derain/error.hpp"
#include "paired_folders.hpp"

namespace fs = std::filesystem;

namespace {

class PairedFolders : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("derain-pairs-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "rainy");
    fs::create_directories(root_ / "clean");
  }
  void TearDown() override { fs::remove_all(root_); }
  // Pairing looks at names only, so empty files do.
  void touch(const std::string& side, const std::string& name) { std::ofstream(root_ / side / name) << "x"; }
  std::string dir(const std::string& side) const { return (root_ / side).string(); }
  fs::path root_;
};

TEST_F(PairedFolders, ExactNamesPairInRainyOrder) {
  for (const char* n : {"002.png", "001.png", "010.png"}) {
    touch("rainy", n);
    touch("clean", n);
  }
  touch("clean", "notes.txt");  // not an image: ignored
  const auto pairs = derain::cli::pairImageFolders(dir("rainy"), dir("clean"));
  ASSERT_EQ(pairs.size(), 3u);
  EXPECT_EQ(pairs[0].name, "001.png");
  EXPECT_EQ(pairs[2].name, "010.png");
  EXPECT_EQ(fs::path(pairs[1].clean).filename(), "002.png");
}

TEST_F(PairedFolders, ExtensionAndRain100NamingPair) {
  touch("rainy", "a.jpg");
  touch("clean", "a.png");
  touch("rainy", "rain-7.png");
  touch("clean", "norain-7.png");
  const auto pairs = derain::cli::pairImageFolders(dir("rainy"), dir("clean"));
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(fs::path(pairs[0].clean).filename(), "a.png");
  EXPECT_EQ(fs::path(pairs[1].clean).filename(), "norain-7.png");
}

TEST_F(PairedFolders, ExactNameWinsOverStem) {
  touch("rainy", "x.png");
  touch("rainy", "x.jpg");
  touch("clean", "x.png");
  touch("clean", "x.jpg");
  const auto pairs = derain::cli::pairImageFolders(dir("rainy"), dir("clean"));
  ASSERT_EQ(pairs.size(), 2u);
  for (const auto& p : pairs) EXPECT_EQ(fs::path(p.rainy).filename(), fs::path(p.clean).filename());
}

TEST_F(PairedFolders, UnmatchedNamesAreListed) {
  touch("rainy", "001.png");
  touch("clean", "001.png");
  touch("rainy", "lonely-rain.png");
  touch("clean", "lonely-clean.png");
  try {
    derain::cli::pairImageFolders(dir("rainy"), dir("clean"));
    FAIL() << "expected an error";
  } catch (const derain::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("lonely-rain.png"), std::string::npos) << m;
    EXPECT_NE(m.find("lonely-clean.png"), std::string::npos) << m;
  }
}

TEST_F(PairedFolders, ManyUnmatchedAreSummarised) {
  for (int i = 0; i < 9; ++i) touch("rainy", "r" + std::to_string(i) + ".png");
  touch("clean", "c.png");
  try {
    derain::cli::pairImageFolders(dir("rainy"), dir("clean"), 3);
    FAIL() << "expected an error";
  } catch (const derain::Error& e) {
    EXPECT_NE(std::string(e.what()).find("and 6 more"), std::string::npos) << e.what();
  }
}

TEST_F(PairedFolders, MissingOrEmptyFolderThrows) {
  touch("rainy", "1.png");
  EXPECT_THROW(derain::cli::pairImageFolders(dir("rainy"), dir("nowhere")), derain::Error);
  EXPECT_THROW(derain::cli::pairImageFolders(dir("rainy"), dir("clean")), derain::Error);  // clean is empty
}

}  // namespace
