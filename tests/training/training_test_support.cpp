#include "training_test_support.h"

#include <fstream>
#include <random>
#include <sstream>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "derain/rain.hpp"

namespace derain::training_test {

TempDir::TempDir() {
  static int counter = 0;
  path_ = std::filesystem::temp_directory_path() /
          ("derain-training-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

ModelConfig tinyConfig() { return ModelConfig::fromText(tinyConfigText()); }

std::string tinyConfigText() {
  return "preset = paper\n"
         "attention.stages = 2\n"
         "attention.channels = 8\n"
         "attention.blocks = 1\n"
         "generator.channels = 8\n"
         "generator.pre_convs = 1\n"
         "generator.dilations = 2\n"
         "generator.post_convs = 1\n"
         "discriminator.scales = 2\n"
         "discriminator.channels = 8\n"
         "discriminator.layers = 3\n";
}

detail::TrainingOptions tinyTrainingOptions(int64_t iterations) {
  detail::TrainingOptions o;
  o.iterations = iterations;
  o.crop = 32;
  o.pool_size = 4;
  o.seed = 7;
  return o;
}

cv::Mat makeScene(int width, int height, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto u = [&] { return uniform01(rng); };
  cv::Mat img(height, width, CV_8UC3);
  const double fx = 0.05 + 0.1 * u(), fy = 0.05 + 0.1 * u(), phase = 6.28 * u();
  const cv::Vec3d base(60 + 120 * u(), 60 + 120 * u(), 60 + 120 * u());
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const double s = std::sin(fx * x + phase) * std::cos(fy * y);
      for (int c = 0; c < 3; ++c)
        img.at<cv::Vec3b>(y, x)[c] = cv::saturate_cast<uint8_t>(base[c] + 50 * s * (c + 1) / 3.0);
    }
  for (int k = 0; k < 3; ++k) {
    const cv::Point centre(static_cast<int>(u() * width), static_cast<int>(u() * height));
    const cv::Scalar colour(255 * u(), 255 * u(), 255 * u());
    if (k % 2)
      cv::circle(img, centre, 3 + static_cast<int>(u() * width / 4), colour, cv::FILLED);
    else
      cv::rectangle(img, centre, centre + cv::Point(5 + static_cast<int>(u() * 10), 5 + static_cast<int>(u() * 10)),
                    colour, cv::FILLED);
  }
  return img;
}

cv::Mat makeRainyScene(int width, int height, uint64_t seed) {
  cv::Mat clean = makeScene(width, height, seed), rainy;
  RainParams rain;
  rain.density = 0.08;
  rain.length = 12;
  rain.intensity = 0.6;
  rain.angle = 10;
  rain.seed = seed;
  addRain(clean, rainy, rain);
  return rainy;
}

std::vector<std::string> writeDomain(const std::string& dir, int count, int side, bool rainy, uint64_t seed) {
  std::filesystem::create_directories(dir);
  std::vector<std::string> paths;
  for (int i = 0; i < count; ++i) {
    // Varying sizes exercise the crop positions.
    const int w = side + (i % 3) * 4, h = side + (i % 2) * 6;
    const uint64_t s = seed * 1000 + static_cast<uint64_t>(i);
    cv::Mat img = rainy ? makeRainyScene(w, h, s) : makeScene(w, h, s);
    char name[32];
    std::snprintf(name, sizeof name, "img_%03d.png", i);
    paths.push_back((std::filesystem::path(dir) / name).string());
    cv::imwrite(paths.back(), img);
  }
  return paths;
}

std::string readBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void writeTinyRunData(const TempDir& dir) {
  writeDomain(dir.file("rainy"), 4, 40, true, 1);
  writeDomain(dir.file("clean"), 3, 40, false, 2);
  std::ofstream(dir.file("tiny.conf")) << tinyConfigText() << "train.pool_size = 4\n";
}

std::vector<std::string> tinyRunArgs(const TempDir& dir, const std::string& out, int iters) {
  return {"--rainy", dir.file("rainy"), "--clean", dir.file("clean"), "--out", dir.file(out), "--config",
          dir.file("tiny.conf"), "--crop", "32", "--iters", std::to_string(iters), "--device", "cpu",
          "--threads", "1", "--seed", "3", "--quiet"};
}

std::string trainBinary() {
  const char* path = std::getenv("DERAIN_TRAIN_BIN");
  return path ? path : "";
}

pid_t spawnTrainer(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
                   const std::string& log) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv;
    std::string bin = trainBinary();
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

int waitExit(pid_t pid, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
}

}  // namespace derain::training_test
