// derain-synth: a clean image folder -> a paired synthetic deraining set (OUT/rainy, OUT/clean) with
// procedural Rain100L-style rain (derain/rain.hpp). Every rain parameter is fixed or drawn per image
// from a range; the whole set is reproducible from --seed.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "cli_args.hpp"
#include "image_files.hpp"
#include "derain/error.hpp"
#include "derain/rain.hpp"
#include "derain/rain_storm.hpp"
#include "derain/rain_video.hpp"
#include "file_list.hpp"
#include "progress_bar.hpp"
#include "run_main.hpp"
#include "safe_output.hpp"

namespace fs = std::filesystem;

namespace {

using derain::cli::kDataExit;

struct RangeOption {
  const char* name;              // command-line option
  derain::ParamRange derain::RainParamRanges::*field;
  const char* help;
};

const RangeOption kRangeOptions[] = {
    {"density", &derain::RainParamRanges::density, "fraction of the area covered by streaks, 0..1"},
    {"angle", &derain::RainParamRanges::angle, "degrees from vertical, -80..80 (+ = top leans right)"},
    {"angle-jitter", &derain::RainParamRanges::angle_jitter, "per-streak angle deviation, degrees, 0..45"},
    {"length", &derain::RainParamRanges::length, "mean streak length, pixels, 1..400"},
    {"width", &derain::RainParamRanges::width, "streak width (FWHM), pixels, 0.5..8"},
    {"intensity", &derain::RainParamRanges::intensity, "peak streak brightness, 0..1"},
    {"haze", &derain::RainParamRanges::haze, "veil strength, 0..1"},
};

std::string rangeText(const derain::ParamRange& r) {
  char buf[64];
  if (r.min == r.max)
    std::snprintf(buf, sizeof buf, "%g", r.min);
  else
    std::snprintf(buf, sizeof buf, "%g:%g", r.min, r.max);
  return buf;
}

// "0.02" -> [0.02, 0.02]; "0.01:0.05" -> [0.01, 0.05]. Usage error otherwise.
derain::ParamRange parseRange(const derain::cli::ArgParser& args, const std::string& name) {
  const std::string text = args.get(name);
  derain::ParamRange r;
  try {
    r = derain::parseParamRange(text);
  } catch (const derain::Error&) {
    args.fail("option '--" + name + "' needs a number or a range MIN:MAX, got '" + text + "'");
  }
  if (r.min > r.max) args.fail("option '--" + name + "': range '" + text + "' has MIN > MAX");
  return r;
}

// Image i's generator: seeded by (seed, i) through seed_seq, whose algorithm the standard fixes, so an
// image's rain depends on neither the platform nor on which other images could be read.
std::mt19937_64 imageRng(uint64_t seed, uint64_t index) {
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                    static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32)};
  return std::mt19937_64(seq);
}

void makeFolder(const fs::path& dir) { derain::cli::makeFolder(dir.string()); }

void writePng(const fs::path& path, const cv::Mat& img) { derain::cli::writeImage(path.string(), img); }


// --video: a paired clip per image instead of a pair of stills.
struct VideoMode {
  bool enabled = false;
  derain::RainVideoParams params;            // size, frames, speeds, moving object
  std::vector<derain::CameraMotion> motions;  // image i gets motions[i % size]
};

VideoMode videoMode(const derain::cli::ArgParser& args) {
  VideoMode mode;
  mode.enabled = args.flagSet("video");
  if (!mode.enabled) return mode;
  const std::string size = args.get("size");
  int w = 0, h = 0;
  char x = 0;
  if (std::sscanf(size.c_str(), "%d%c%d", &w, &x, &h) != 3 || x != 'x') args.fail("--size needs WxH, got '" + size + "'");
  mode.params.size = cv::Size(w, h);
  mode.params.frames = args.getInt("frames", 1, 10000);
  mode.params.moving_object = args.flagSet("moving-object");
  std::string list = args.get("motion") + ",";
  for (size_t start = 0, comma; (comma = list.find(',', start)) != std::string::npos; start = comma + 1) {
    const std::string word = list.substr(start, comma - start);
    if (word.empty()) continue;
    try {
      mode.motions.push_back(derain::parseCameraMotion(word));
    } catch (const derain::Error& e) {
      args.fail(e.what());
    }
  }
  if (mode.motions.empty()) args.fail("--motion needs at least one of static, pan, zoom, forward, shake");
  try {
    mode.params.validate();
  } catch (const derain::Error& e) {
    args.fail(e.what());
  }
  return mode;
}

int run(const derain::cli::ArgParser& args) {
  const VideoMode video = videoMode(args);
  const std::string style = args.get("style");
  if (style != "procedural" && style != "storm") args.fail("--style must be procedural or storm, got '" + style + "'");
  const bool storm = style == "storm";
  if (storm) {
    if (video.enabled) args.fail("--style storm makes stills only: it does not combine with --video");
    for (const auto& opt : kRangeOptions)
      if (args.has(opt.name))
        args.fail(std::string("--") + opt.name + " sets the procedural rain; --style storm draws its own (derain/rain_storm.hpp)");
  }
  derain::RainParamRanges ranges;
  for (const auto& opt : kRangeOptions) ranges.*(opt.field) = parseRange(args, opt.name);
  try {
    ranges.validate();
  } catch (const derain::Error& e) {
    args.fail(e.what());
  }
  const std::string seed_text = args.get("seed");
  uint64_t seed = 0;
  try {
    size_t used = 0;
    seed = std::stoull(seed_text, &used);
    if (used != seed_text.size() || seed_text[0] == '-') throw std::invalid_argument(seed_text);
  } catch (const std::exception&) {
    args.fail("option '--seed' needs a non-negative integer, got '" + seed_text + "'");
  }
  const int limit = args.getInt("limit");
  if (limit < 0) args.fail("--limit must be >= 0");

  const fs::path clean_in = args.get("clean"), out = args.get("out");
  std::vector<std::string> inputs = derain::cli::listImages(clean_in.string());
  if (inputs.empty()) throw derain::Error("no images in '" + clean_in.string() + "'");
  if (limit > 0 && static_cast<size_t>(limit) < inputs.size()) inputs.resize(limit);

  // Outputs are <stem>.png on both sides: two inputs differing only by extension would collide.
  std::map<std::string, std::string> by_stem;
  for (const auto& in : inputs) {
    const std::string stem = fs::path(in).stem().string();
    if (auto [it, fresh] = by_stem.emplace(stem, in); !fresh)
      throw derain::Error("'" + fs::path(it->second).filename().string() + "' and '" +
                          fs::path(in).filename().string() + "' would both be written as " + stem + ".png");
  }
  const fs::path rainy_out = out / "rainy", clean_out = out / "clean";
  if (derain::cli::sameFile(clean_out.string(), clean_in.string()) ||
      derain::cli::sameFile(rainy_out.string(), clean_in.string()))
    throw derain::Error("the output folders must not be the input folder '" + clean_in.string() + "'");
  makeFolder(rainy_out);
  makeFolder(clean_out);
  derain::cli::installInterruptHandlers();

  // params.csv goes to a temporary file, renamed into place once every pair is written.
  const fs::path params_path = out / "params.csv";
  derain::cli::PendingFile params_file(params_path.string());
  std::ofstream params(params_file.tempPath());
  if (!params) throw derain::Error("cannot write '" + params_path.string() + "'");
  params << (storm ? "name,style,seed\n" : "name,density,angle,angle_jitter,length,width,intensity,haze,seed\n");

  derain::cli::ProgressBar progress("synthesizing", static_cast<int64_t>(inputs.size()));
  int written = 0, skipped = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    derain::cli::checkInterrupted();
    const std::string& in = inputs[i];
    std::mt19937_64 rng = imageRng(seed, i);
    const derain::RainParams p = ranges.sample(rng);
    cv::Mat clean = cv::imread(in, cv::IMREAD_COLOR);
    if (clean.empty()) {
      std::cerr << (isatty(STDERR_FILENO) ? "\n" : "") << "derain-synth: warning: skipping unreadable image '"
                << in << "'\n";
      ++skipped;
      progress.update(static_cast<int64_t>(i + 1));
      continue;
    }
    std::string name;
    if (video.enabled) {
      // A clip per image: OUT/{rainy,clean}/<stem>-<motion>/frame-NNNN.png, the motions in turn.
      derain::RainVideoParams vp = video.params;
      vp.motion = video.motions[i % video.motions.size()];
      vp.rain = p;
      vp.seed = p.seed;
      const derain::RainVideo clip = derain::makeRainVideo(clean, vp);
      name = fs::path(in).stem().string() + "-" + derain::toString(vp.motion);
      makeFolder(rainy_out / name);
      makeFolder(clean_out / name);
      for (size_t f = 0; f < clip.rainy.size(); ++f) {
        derain::cli::checkInterrupted();
        char frame_name[32];
        std::snprintf(frame_name, sizeof frame_name, "frame-%04zu.png", f);
        writePng(rainy_out / name / frame_name, clip.rainy[f]);
        writePng(clean_out / name / frame_name, clip.clean[f]);
      }
    } else {
      cv::Mat rainy;
      if (storm)
        derain::addStormRain(clean, rainy, p.seed);  // the image's own seed, drawn as for procedural rain
      else
        derain::addRain(clean, rainy, p);
      name = fs::path(in).stem().string() + ".png";
      writePng(rainy_out / name, rainy);
      writePng(clean_out / name, clean);
    }
    char line[512];
    if (storm)
      std::snprintf(line, sizeof line, "%s,storm,%llu\n", name.c_str(), static_cast<unsigned long long>(p.seed));
    else
      std::snprintf(line, sizeof line, "%s,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%llu\n", name.c_str(), p.density,
                    p.angle, p.angle_jitter, p.length, p.width, p.intensity, p.haze,
                    static_cast<unsigned long long>(p.seed));
    params << line;
    ++written;
    progress.update(static_cast<int64_t>(i + 1), name);
  }
  progress.finish();
  params.close();
  if (!params) throw derain::Error("writing '" + params_path.string() + "' failed");
  params_file.commit();
  std::printf("wrote %d pairs to %s (%d unreadable inputs skipped)\n", written, out.string().c_str(), skipped);
  if (written == 0) {
    std::cerr << "derain-synth: error: no input image could be read\n";
    return kDataExit;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return derain::cli::runMain("derain-synth", [&] {
    derain::cli::ArgParser args("derain-synth",
                                "Makes a paired deraining set from a folder of clean images: procedural\n"
                                "Rain100L-style streaks (sparse seeds, motion blur along an angle, optional veil),\n"
                                "additively blended. Writes OUT/rainy/<name>.png, OUT/clean/<name>.png and\n"
                                "OUT/params.csv (the parameters drawn for each image).");
    args.option("clean", "DIR", "folder of clean images (png, jpg, bmp, tif, webp)", "", true);
    args.option("out", "DIR", "output folder; rainy/ and clean/ are created in it", "", true);
    args.option("seed", "N", "seed of the whole set (same seed and inputs -> same bytes)", "0");
    args.option("style", "NAME", "procedural (the renderer the models train with, set by the options below) or "
                                 "storm (a different model: defocused near and far streaks, splashes, a veil "
                                 "growing with distance; derain/rain_storm.hpp; stills only, no range options)",
                "procedural");
    const derain::RainParamRanges defaults;
    for (const auto& opt : kRangeOptions)
      args.option(opt.name, "V|MIN:MAX", std::string(opt.help) + "; fixed or drawn uniformly per image",
                  rangeText(defaults.*(opt.field)));
    args.option("limit", "N", "use only the first N images (by name), 0 = all", "0");
    args.flag("video", "paired clips instead of stills: a moving camera over each image, rain falling coherently "
                       "from frame to frame; OUT/{rainy,clean}/<name>-<motion>/frame-NNNN.png");
    args.option("motion", "LIST", "--video: camera motions, given to the images in turn: static, pan, zoom, "
                                  "forward, shake", "static,pan,zoom,forward");
    args.option("frames", "N", "--video: frames per clip", "30");
    args.option("size", "WxH", "--video: frame size", "640x360");
    args.flag("moving-object", "--video: a sprite crosses each clip (to measure ghosting)");
    args.epilog(
        "Both sides are written as lossless PNG named after the input's stem (a.jpg -> a.png), so the\n"
        "clean image holds exactly the decoded pixels the rain was rendered on. Existing files of the same\n"
        "name in OUT are replaced, each file atomically (written to a temporary file, then renamed). Image i (in name order) draws its parameters from a generator seeded\n"
        "by (seed, i). Unreadable inputs are skipped with a warning and counted.\n"
        "Exit status: 0 when at least one pair was written, 1 on bad data (missing folder, no readable\n"
        "image, write failure), 2 on bad arguments.\n"
        "Examples:\n"
        "  derain-synth --clean bsds/ --out rain-bsds/ --seed 1 --density 0.02:0.08 --angle -15:15\n"
        "  derain-synth --clean bsds/ --out rain-video/ --video --frames 24 --motion pan,zoom --limit 8");
    args.parse(argc, argv);
    if (!args.positional().empty()) args.fail("unexpected argument '" + args.positional().front() + "'");
    return run(args);
  });
}
