// The OpenCV examples (examples/opencv) as a user runs them, on tiny images and a clip made here with
// an untrained lite model: "nothing lost" (an output never replaces an input, a failed write leaves
// the previous file intact and no temporary file behind) and what a successful run writes. meson
// passes the binaries' paths in DERAIN_EXAMPLE_*.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "derain/config.hpp"
#include "derain/dnn_derain.hpp"
#include "derain/engine.hpp"

namespace fs = std::filesystem;

namespace {

constexpr int kWidth = 48, kHeight = 32;  // small enough for an untrained lite model to be quick
constexpr int kClipFrames = 3;
constexpr int kPanelGap = 4;  // side_by_side's white gap between panels

struct Exit {
  int code = -1;  // -1 when it did not exit normally
  std::string out, err;
};

std::string readBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

cv::Mat pattern(int seed) {
  cv::Mat image(kHeight, kWidth, CV_8UC3);
  cv::RNG(seed).fill(image, cv::RNG::UNIFORM, 0, 256);
  return image;
}

class OpenCvExamples : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("derain-opencv-examples-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    derain::Engine::untrained(derain::ModelConfig::lite(), 5).save(path("lite.derain"));
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string path(const std::string& name) const { return (root_ / name).string(); }

  // Runs an example with the test model on one thread; stdout and stderr are captured.
  Exit run(const char* env, std::vector<std::string> args) {
    const char* exe = std::getenv(env);
    if (exe == nullptr) {
      ADD_FAILURE() << env << " is not set (run through meson test)";
      return {};
    }
    args.insert(args.end(), {"--model", path("lite.derain"), "--target", "cpu", "--threads", "1"});
    std::string command = quote(exe);
    for (const auto& arg : args) command += " " + quote(arg);
    const fs::path out = root_ / "stdout.txt", err = root_ / "stderr.txt";
    command += " >" + quote(out.string()) + " 2>" + quote(err.string());
    const int status = std::system(command.c_str());
    Exit result;
    result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.out = readBytes(out);
    result.err = readBytes(err);
    fs::remove(out);
    fs::remove(err);
    return result;
  }

  // What is in the folder besides the model: inputs and outputs only, never a ".NAME.part-..." file.
  std::vector<std::string> files() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(root_))
      if (entry.path().filename() != "lite.derain") names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

  // An MJPG/AVI clip of random frames.
  void writeClip(const std::string& name, int frames = kClipFrames, cv::Size size = {kWidth, kHeight}) {
    cv::VideoWriter writer(path(name), cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 10, size);
    ASSERT_TRUE(writer.isOpened());
    cv::Mat frame;
    for (int i = 0; i < frames; ++i) {
      cv::resize(pattern(10 + i % kClipFrames), frame, size);
      writer.write(frame);
    }
  }

  // The temporary files in the folder (".NAME.part-PID-N.EXT", safe_output.hpp).
  std::vector<fs::path> temporaries() const {
    std::vector<fs::path> found;
    for (const auto& entry : fs::directory_iterator(root_))
      if (entry.path().filename().string().rfind(".", 0) == 0) found.push_back(entry.path());
    return found;
  }

  fs::path root_;
};

// The one-line refusal, with the input's bytes as they were.
void expectRefused(const Exit& exit, const std::string& input_bytes, const fs::path& input) {
  EXPECT_EQ(exit.code, 1) << exit.err;
  EXPECT_NE(exit.err.find("error: refusing to write"), std::string::npos) << exit.err;
  EXPECT_TRUE(readBytes(input) == input_bytes) << input << " was changed";
}

TEST_F(OpenCvExamples, DerainImageRefusesToWriteOverItsInput) {
  ASSERT_TRUE(cv::imwrite(path("rainy.png"), pattern(1)));
  const std::string before = readBytes(path("rainy.png"));
  expectRefused(run("DERAIN_EXAMPLE_IMAGE", {"--input", path("rainy.png"), "--output", path("rainy.png")}), before,
                path("rainy.png"));
  // Spelled another way, and through a hard link (same file, other name).
  expectRefused(run("DERAIN_EXAMPLE_IMAGE", {"--input", path("rainy.png"), "--output", path("./x/../rainy.png")}),
                before, path("rainy.png"));
  fs::create_hard_link(path("rainy.png"), path("link.png"));
  expectRefused(run("DERAIN_EXAMPLE_IMAGE", {"--input", path("rainy.png"), "--output", path("link.png")}), before,
                path("rainy.png"));
  EXPECT_EQ(files(), (std::vector<std::string>{"link.png", "rainy.png"}));
}

TEST_F(OpenCvExamples, DerainImageWritesTheWrappersPixelsOverAnOldFile) {
  ASSERT_TRUE(cv::imwrite(path("rainy.png"), pattern(2)));
  std::ofstream(path("clean.png")) << "an older output";
  const Exit exit = run("DERAIN_EXAMPLE_IMAGE", {"--input", path("rainy.png"), "--output", path("clean.png")});
  ASSERT_EQ(exit.code, 0) << exit.err;

  auto net = cv::dnn_derain::DnnDerainImpl::create();
  net->setPreferableTarget(cv::dnn_derain::TARGET_CPU);
  net->setNumThreads(1);
  net->readModel(path("lite.derain"));
  cv::Mat expected;
  net->derain(pattern(2), expected);
  const cv::Mat written = cv::imread(path("clean.png"), cv::IMREAD_UNCHANGED);
  ASSERT_EQ(written.size(), expected.size());
  ASSERT_EQ(written.type(), expected.type());
  EXPECT_EQ(cv::norm(written, expected, cv::NORM_INF), 0);  // PNG is lossless: the same bytes
  EXPECT_EQ(files(), (std::vector<std::string>{"clean.png", "rainy.png"}));
}

TEST_F(OpenCvExamples, DerainImageFailedWriteKeepsThePreviousFile) {
  ASSERT_TRUE(cv::imwrite(path("rainy.png"), pattern(3)));
  std::ofstream(path("clean.nosuchformat")) << "previous";
  const Exit exit =
      run("DERAIN_EXAMPLE_IMAGE", {"--input", path("rainy.png"), "--output", path("clean.nosuchformat")});
  EXPECT_EQ(exit.code, 1);
  EXPECT_NE(exit.err.find("cannot write '" + path("clean.nosuchformat") + "'"), std::string::npos) << exit.err;
  EXPECT_EQ(readBytes(path("clean.nosuchformat")), "previous");
  EXPECT_EQ(files(), (std::vector<std::string>{"clean.nosuchformat", "rainy.png"}));
}

TEST_F(OpenCvExamples, UnreadableInputsAreNamedWithTheReason) {
  std::ofstream(path("notes.png")) << "not an image";
  ASSERT_TRUE(cv::imwrite(path("rainy.png"), pattern(8)));
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"--input", path("missing.png")}, "cannot read image '" + path("missing.png") + "': no such file"},
      {{"--input", path("notes.png")}, "cannot read image '" + path("notes.png") + "': not a recognised image format"}};
  for (const auto& [input, message] : cases) {
    auto args = input;
    args.insert(args.end(), {"--output", path("out.png")});
    for (const char* example : {"DERAIN_EXAMPLE_IMAGE", "DERAIN_EXAMPLE_SIDE_BY_SIDE"}) {
      const Exit exit = run(example, args);
      EXPECT_EQ(exit.code, 1) << example;
      EXPECT_NE(exit.err.find(message), std::string::npos) << example << ": " << exit.err;
    }
  }
  const Exit exit = run("DERAIN_EXAMPLE_SIDE_BY_SIDE",
                        {"--input", path("rainy.png"), "--clean", path("notes.png"), "--output", path("out.png")});
  EXPECT_EQ(exit.code, 1);
  EXPECT_NE(exit.err.find("cannot read image '" + path("notes.png") + "'"), std::string::npos) << exit.err;
  EXPECT_EQ(files(), (std::vector<std::string>{"notes.png", "rainy.png"}));
}

TEST_F(OpenCvExamples, SideBySideRefusesToWriteOverEitherInput) {
  ASSERT_TRUE(cv::imwrite(path("rainy.png"), pattern(4)));
  ASSERT_TRUE(cv::imwrite(path("clean.png"), pattern(5)));
  const std::string rainy = readBytes(path("rainy.png")), clean = readBytes(path("clean.png"));
  for (const char* output : {"rainy.png", "clean.png"}) {
    const Exit exit = run("DERAIN_EXAMPLE_SIDE_BY_SIDE",
                          {"--input", path("rainy.png"), "--clean", path("clean.png"), "--output", path(output)});
    expectRefused(exit, output == std::string("rainy.png") ? rainy : clean, path(output));
  }
  EXPECT_EQ(readBytes(path("rainy.png")), rainy);
  EXPECT_EQ(readBytes(path("clean.png")), clean);
  EXPECT_EQ(files(), (std::vector<std::string>{"clean.png", "rainy.png"}));
}

TEST_F(OpenCvExamples, SideBySideWritesThreePanels) {
  ASSERT_TRUE(cv::imwrite(path("rainy.png"), pattern(6)));
  ASSERT_TRUE(cv::imwrite(path("clean.png"), pattern(7)));
  const Exit exit = run("DERAIN_EXAMPLE_SIDE_BY_SIDE",
                        {"--input", path("rainy.png"), "--clean", path("clean.png"), "--output", path("sbs.png")});
  ASSERT_EQ(exit.code, 0) << exit.err;
  const cv::Mat picture = cv::imread(path("sbs.png"), cv::IMREAD_UNCHANGED);
  EXPECT_EQ(picture.cols, 3 * kWidth + 2 * kPanelGap);
  EXPECT_GT(picture.rows, kHeight);  // the panels under their caption bars
  EXPECT_EQ(files(), (std::vector<std::string>{"clean.png", "rainy.png", "sbs.png"}));
}

TEST_F(OpenCvExamples, DerainVideoRefusesToWriteOverItsInput) {
  writeClip("clip.avi");
  const std::string before = readBytes(path("clip.avi"));
  expectRefused(run("DERAIN_EXAMPLE_VIDEO", {"--input", path("clip.avi"), "--output", path("clip.avi")}), before,
                path("clip.avi"));
  fs::create_hard_link(path("clip.avi"), path("link.avi"));
  expectRefused(run("DERAIN_EXAMPLE_VIDEO", {"--input", path("clip.avi"), "--output", path("link.avi")}), before,
                path("clip.avi"));
  EXPECT_EQ(files(), (std::vector<std::string>{"clip.avi", "link.avi"}));
}

TEST_F(OpenCvExamples, DerainVideoReplacesAnOldFileWithEveryFrame) {
  writeClip("clip.avi");
  std::ofstream(path("out.avi")) << "an older output";
  const Exit exit = run("DERAIN_EXAMPLE_VIDEO", {"--input", path("clip.avi"), "--output", path("out.avi")});
  ASSERT_EQ(exit.code, 0) << exit.err;
  cv::VideoCapture written(path("out.avi"));
  ASSERT_TRUE(written.isOpened());
  int frames = 0;
  cv::Mat frame;
  while (written.read(frame)) {
    EXPECT_EQ(frame.size(), cv::Size(kWidth, kHeight));
    ++frames;
  }
  EXPECT_EQ(frames, kClipFrames);
  EXPECT_EQ(files(), (std::vector<std::string>{"clip.avi", "out.avi"}));
}

TEST_F(OpenCvExamples, DerainVideoFailedWriteKeepsThePreviousFile) {
  writeClip("clip.avi");
  std::ofstream(path("out.avi")) << "previous";
  // No encoder has this code: the writer fails to open on the first frame.
  const Exit exit =
      run("DERAIN_EXAMPLE_VIDEO", {"--input", path("clip.avi"), "--output", path("out.avi"), "--fourcc", "ZZZZ"});
  EXPECT_EQ(exit.code, 1);
  EXPECT_NE(exit.err.find("cannot write '" + path("out.avi") + "'"), std::string::npos) << exit.err;
  EXPECT_EQ(readBytes(path("out.avi")), "previous");
  EXPECT_EQ(files(), (std::vector<std::string>{"clip.avi", "out.avi"}));
}

TEST_F(OpenCvExamples, InterruptedVideoLeavesThePreviousFileAndNoPartialOne) {
  writeClip("clip.avi", 200, {320, 240});
  std::ofstream(path("out.avi")) << "previous";
  const char* exe = std::getenv("DERAIN_EXAMPLE_VIDEO");
  ASSERT_NE(exe, nullptr) << "run through meson test";
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = ::open(path("log.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    execl(exe, exe, "--input", path("clip.avi").c_str(), "--output", path("out.avi").c_str(), "--model",
          path("lite.derain").c_str(), "--threads", "1", static_cast<char*>(nullptr));
    _exit(127);
  }
  // Ctrl-C once the temporary output holds a few derained frames.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  bool writing = false;
  while (!writing && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::error_code ec;
    for (const auto& temporary : temporaries()) writing |= fs::file_size(temporary, ec) > 20000;
  }
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  const std::string log = readBytes(path("log.txt"));
  ASSERT_TRUE(writing) << log;
  ASSERT_TRUE(WIFEXITED(status)) << log;
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGINT) << log;
  EXPECT_NE(log.find("derain_video: interrupted"), std::string::npos) << log;
  EXPECT_EQ(readBytes(path("out.avi")), "previous");
  EXPECT_TRUE(temporaries().empty());
}

}  // namespace
