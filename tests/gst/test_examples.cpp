// The GStreamer examples (examples/gst) run: the derain_pipeline application and the launch lines of
// derain-launch.sh, on a small clip made here. meson passes their paths in the environment.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <sys/wait.h>

#include <glib.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

#include "gst_test_support.h"

namespace {

constexpr int kClipFrames = 5;

struct Exit {
  int status = -1;  // exit code, -1 when it did not exit normally
  std::string err;  // stderr
};

// Runs argv with DERAIN_MODEL set to the test model (and the test's GST_PLUGIN_PATH inherited).
Exit spawn(const std::vector<std::string>& args, const std::vector<std::string>& extra_env = {}) {
  std::vector<gchar*> argv;
  for (const auto& arg : args) argv.push_back(const_cast<gchar*>(arg.c_str()));
  argv.push_back(nullptr);
  gchar** envp = g_environ_setenv(g_get_environ(), "DERAIN_MODEL", gst_test::liteModelPath().c_str(), TRUE);
  for (const auto& setting : extra_env) {
    const size_t eq = setting.find('=');
    envp = g_environ_setenv(envp, setting.substr(0, eq).c_str(), setting.substr(eq + 1).c_str(), TRUE);
  }
  Exit result;
  gchar* out = nullptr;  // gst-launch's chatter, not needed
  gchar* err = nullptr;
  gint wait_status = 0;
  GError* error = nullptr;
  if (g_spawn_sync(nullptr, argv.data(), envp, G_SPAWN_SEARCH_PATH, nullptr, nullptr, &out, &err, &wait_status,
                   &error)) {
    if (WIFEXITED(wait_status)) result.status = WEXITSTATUS(wait_status);
    result.err = err != nullptr ? err : "";
  } else {
    result.err = error->message;
    g_clear_error(&error);
  }
  g_free(out);
  g_free(err);
  g_strfreev(envp);
  return result;
}

// A 48x32 MJPEG/AVI clip of kClipFrames test-pattern frames (decodable with the base/good plugins).
const std::string& clip() {
  static const std::string path = [] {
    const std::string file = gst_test::tempPath("clip.avi");
    const auto made = gst_test::runToEnd("videotestsrc num-buffers=" + std::to_string(kClipFrames) +
                                         " pattern=ball ! video/x-raw,width=48,height=32,framerate=10/1 ! "
                                         "jpegenc ! avimux ! filesink location=\"" + file + "\"");
    EXPECT_TRUE(made.eos) << made.error;
    return file;
  }();
  return path;
}

// Decodes a video file; frames and frame size are in the result.
gst_test::RunResult decode(const std::string& path) {
  auto decoded = gst_test::runToEnd("filesrc location=\"" + path + "\" ! decodebin ! videoconvert ! "
                                    "video/x-raw,format=RGB ! fakesink name=sink");
  EXPECT_TRUE(decoded.eos) << path << ": " << decoded.error;
  return decoded;
}

// Expects path to hold `frames` frames of width x height.
void expectVideo(const std::string& path, int frames, int width, int height) {
  const auto video = decode(path);
  EXPECT_EQ(video.buffers, frames) << path;
  EXPECT_EQ(video.width, width) << path;
  EXPECT_EQ(video.height, height) << path;
}

std::string readBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// A fresh folder holding a copy of the clip (as in.avi) and an older output (out.webm, "previous").
std::string safetyFolder(const std::string& name) {
  const std::string dir = gst_test::tempPath(name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(clip(), dir + "/in.avi");
  std::ofstream(dir + "/out.webm") << "previous";
  return dir;
}

// The folder's file names, sorted: a temporary ".NAME.part-..." left behind shows up here.
std::vector<std::string> fileNames(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

// Running `args` (which write DIR/out.webm from DIR/in.avi) with output = input is refused with the
// input untouched; a run that fails (corrupt model) leaves the older output and no temporary file.
void expectNothingLost(const std::string& dir, std::vector<std::string> args, const std::vector<std::string>& env) {
  const std::string input = dir + "/in.avi", clip_bytes = readBytes(input);
  args.insert(args.end(), {input, dir + "/./in.avi"});
  Exit exit = spawn(args, env);
  EXPECT_EQ(exit.status, 1) << exit.err;
  EXPECT_NE(exit.err.find("refusing to write"), std::string::npos) << exit.err;
  EXPECT_TRUE(readBytes(input) == clip_bytes) << input << " was changed";
  args.back() = dir + "/out.webm";
  auto failing_env = env;
  failing_env.push_back("DERAIN_MODEL=" + gst_test::corruptModelPath());
  exit = spawn(args, failing_env);
  EXPECT_NE(exit.status, 0) << exit.err;
  EXPECT_EQ(readBytes(dir + "/out.webm"), "previous");
  EXPECT_EQ(fileNames(dir), (std::vector<std::string>{"in.avi", "out.webm"}));
  // And a run that succeeds replaces the older output, again with no temporary file left.
  exit = spawn(args, env);
  ASSERT_EQ(exit.status, 0) << exit.err;
  expectVideo(dir + "/out.webm", kClipFrames, 48, 32);
  EXPECT_EQ(fileNames(dir), (std::vector<std::string>{"in.avi", "out.webm"}));
}

class ExampleApp : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* app = g_getenv("DERAIN_GST_EXAMPLE_APP");
    if (app == nullptr) GTEST_SKIP() << "DERAIN_GST_EXAMPLE_APP not set (run through meson test)";
    app_ = app;
  }
  std::string app_;
};

TEST_F(ExampleApp, DerainsAFileToWebm) {
  const std::string out = gst_test::tempPath("app-derained.webm");
  const Exit exit = spawn({app_, "--threads", "1", clip(), out});
  ASSERT_EQ(exit.status, 0) << exit.err;
  expectVideo(out, kClipFrames, 48, 32);
}

TEST_F(ExampleApp, AddsRainThenDerainsSideBySide) {
  const std::string out = gst_test::tempPath("app-compare.avi");
  const Exit exit = spawn({app_, "--compare", "--rain", "0.1", "--seed", "4", "--model", gst_test::liteModelPath(),
                           clip(), out});
  ASSERT_EQ(exit.status, 0) << exit.err;
  expectVideo(out, kClipFrames, 96, 32);  // input | derained
}

TEST_F(ExampleApp, CorruptModelIsReportedFromTheBus) {
  const Exit exit = spawn({app_, "--model", gst_test::corruptModelPath(), clip(), gst_test::tempPath("x.webm")});
  EXPECT_EQ(exit.status, 1);
  EXPECT_NE(exit.err.find("ERROR from derain"), std::string::npos) << exit.err;
  EXPECT_NE(exit.err.find(gst_test::corruptModelPath()), std::string::npos) << exit.err;
}

TEST_F(ExampleApp, LosesNothing) {
  expectNothingLost(safetyFolder("app-safety"), {app_, "--threads", "1"}, {});
}

TEST_F(ExampleApp, BadArgumentsGiveUsageAndExitCode2) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {app_}, {app_, "--strength", "2", "a.avi", "b.webm"}, {app_, "a.avi", "b.mp4"}, {app_, "--bogus"}}) {
    const Exit exit = spawn(args);
    EXPECT_EQ(exit.status, 2) << args.back();
    EXPECT_FALSE(exit.err.empty()) << args.back();
  }
}

class LaunchScript : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* script = g_getenv("DERAIN_GST_LAUNCH_SCRIPT");
    if (script == nullptr) GTEST_SKIP() << "DERAIN_GST_LAUNCH_SCRIPT not set (run through meson test)";
    gchar* launcher = g_find_program_in_path("gst-launch-1.0");
    if (launcher == nullptr) GTEST_SKIP() << "gst-launch-1.0 not installed (gstreamer1.0-tools)";
    g_free(launcher);
    script_ = script;
  }
  std::string script_;
};

TEST_F(LaunchScript, Derain) {
  const std::string out = gst_test::tempPath("script-derained.webm");
  const Exit exit = spawn({"bash", script_, "derain", clip(), out}, {"THREADS=1"});
  ASSERT_EQ(exit.status, 0) << exit.err;
  expectVideo(out, kClipFrames, 48, 32);
}

TEST_F(LaunchScript, CompareSideBySide) {
  const std::string out = gst_test::tempPath("script-compare.webm");
  const Exit exit = spawn({"bash", script_, "compare", clip(), out}, {"THREADS=1", "WIDTH=40", "HEIGHT=30"});
  ASSERT_EQ(exit.status, 0) << exit.err;
  expectVideo(out, kClipFrames, 80, 30);
}

TEST_F(LaunchScript, AugmentWritesOneJpegPerFrame) {
  const std::string dir = gst_test::tempPath("augmented");
  const Exit exit = spawn({"bash", script_, "augment", clip(), dir, "7"});
  ASSERT_EQ(exit.status, 0) << exit.err;
  int jpegs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    jpegs += entry.path().extension() == ".jpg" ? 1 : 0;
  EXPECT_EQ(jpegs, kClipFrames);
}

TEST_F(LaunchScript, DerainLosesNothing) {
  expectNothingLost(safetyFolder("script-safety"), {"bash", script_, "derain"}, {"THREADS=1"});
}

TEST_F(LaunchScript, AugmentRefusesTheInputsFolder) {
  const std::string dir = safetyFolder("script-augment-safety");
  const Exit exit = spawn({"bash", script_, "augment", dir + "/in.avi", dir + "/"});
  EXPECT_EQ(exit.status, 1) << exit.err;
  EXPECT_NE(exit.err.find("refusing to write into"), std::string::npos) << exit.err;
  EXPECT_EQ(fileNames(dir), (std::vector<std::string>{"in.avi", "out.webm"}));
}

TEST_F(LaunchScript, UnknownCommandGivesUsage) {
  const Exit exit = spawn({"bash", script_, "bogus", clip()});
  EXPECT_EQ(exit.status, 2);
  EXPECT_NE(exit.err.find("Usage"), std::string::npos) << exit.err;
}

}  // namespace
