#include "gst_test_support.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <opencv2/imgproc.hpp>

#include <derain/engine.hpp>

namespace gst_test {
namespace {

// A temporary directory holding the test program's model files, removed when the program ends.
class TempDir {
 public:
  TempDir() {
    gchar* dir = g_dir_make_tmp("derain-gst-test-XXXXXX", nullptr);
    if (dir == nullptr) throw std::runtime_error("cannot make a temporary directory");
    path_ = dir;
    g_free(dir);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

TempDir& tempDir() {
  static TempDir dir;
  return dir;
}

GstVideoInfo infoFor(const std::string& caps_string) {
  GstCaps* caps = gst_caps_from_string(caps_string.c_str());
  GstVideoInfo info;
  const bool ok = caps != nullptr && gst_video_info_from_caps(&info, caps);
  if (caps != nullptr) gst_caps_unref(caps);
  if (!ok) throw std::runtime_error("bad caps " + caps_string);
  return info;
}

}  // namespace

const std::vector<Format>& allFormats() {
  static const std::vector<Format> formats{
      {"RGB", 3, derain::ColorOrder::RGB},  {"BGR", 3, derain::ColorOrder::BGR},
      {"RGBA", 4, derain::ColorOrder::RGB}, {"BGRA", 4, derain::ColorOrder::BGR},
      {"RGBx", 4, derain::ColorOrder::RGB}, {"BGRx", 4, derain::ColorOrder::BGR},
  };
  return formats;
}

void PrintTo(const Format& format, std::ostream* out) { *out << format.name; }

const std::string& liteModelPath() {
  static const std::string path = [] {
    const std::string file = tempDir().file("lite-untrained.derain");
    // lite's generators are residual (output = input + G): the identity when untrained, which would
    // make "the element's output equals the engine's" no better than "equals the input".
    derain::ModelConfig config = derain::ModelConfig::lite();
    config.generator.residual = false;
    derain::Engine::untrained(config, 1).save(file);
    return file;
  }();
  return path;
}

const std::string& corruptModelPath() {
  static const std::string path = [] {
    const std::string file = tempDir().file("corrupt.derain");
    std::ofstream out(file, std::ios::binary);
    out << "this is not a libderain model file, just some text long enough to look like a header\n";
    return file;
  }();
  return path;
}

std::string missingModelPath() { return tempDir().file("does-not-exist.derain"); }

std::string tempPath(const std::string& name) { return tempDir().file(name); }

std::string capsString(const Format& format, int width, int height, int fps) {
  return "video/x-raw,format=" + std::string(format.name) + ",width=" + std::to_string(width) +
         ",height=" + std::to_string(height) + ",framerate=" + std::to_string(fps) + "/1";
}

cv::Mat testImage(int width, int height, int channels, uint64_t seed) {
  cv::Mat image(height, width, CV_8UC(channels));
  cv::RNG rng(seed);
  rng.fill(image, cv::RNG::UNIFORM, 0, 256);
  return image;
}

GstBuffer* bufferFromImage(const cv::Mat& image, const std::string& caps, GstClockTime pts) {
  const GstVideoInfo info = infoFor(caps);
  const int row_bytes = GST_VIDEO_INFO_WIDTH(&info) * GST_VIDEO_INFO_COMP_PSTRIDE(&info, 0);
  if (image.rows != GST_VIDEO_INFO_HEIGHT(&info) || image.cols * static_cast<int>(image.elemSize()) != row_bytes)
    throw std::runtime_error("image does not match caps " + caps);

  GstBuffer* buffer = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(&info), nullptr);
  GstMapInfo map;
  gst_buffer_map(buffer, &map, GST_MAP_WRITE);
  std::memset(map.data, 0, map.size);  // padding too, so whole buffers can be compared
  for (int y = 0; y < image.rows; ++y)
    std::memcpy(map.data + GST_VIDEO_INFO_PLANE_OFFSET(&info, 0) + y * GST_VIDEO_INFO_PLANE_STRIDE(&info, 0),
                image.ptr(y), row_bytes);
  gst_buffer_unmap(buffer, &map);
  GST_BUFFER_PTS(buffer) = pts;
  GST_BUFFER_DURATION(buffer) =
      gst_util_uint64_scale_int(GST_SECOND, GST_VIDEO_INFO_FPS_D(&info), GST_VIDEO_INFO_FPS_N(&info));
  return buffer;
}

cv::Mat imageFromBuffer(GstBuffer* buffer, const std::string& caps) {
  GstVideoInfo info = infoFor(caps);
  GstVideoFrame frame;
  if (!gst_video_frame_map(&frame, &info, buffer, GST_MAP_READ))
    throw std::runtime_error("cannot map buffer as " + caps);
  const cv::Mat view(GST_VIDEO_FRAME_HEIGHT(&frame), GST_VIDEO_FRAME_WIDTH(&frame),
                     CV_8UC(GST_VIDEO_FRAME_COMP_PSTRIDE(&frame, 0)), GST_VIDEO_FRAME_PLANE_DATA(&frame, 0),
                     static_cast<size_t>(GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 0)));
  cv::Mat image = view.clone();
  gst_video_frame_unmap(&frame);
  return image;
}

cv::Mat colourOf(const cv::Mat& image) {
  if (image.channels() == 3) return image.clone();
  cv::Mat colour;
  cv::cvtColor(image, colour, cv::COLOR_RGBA2RGB);  // drops the 4th channel, order unchanged
  return colour;
}

cv::Mat channelOf(const cv::Mat& image, int c) {
  cv::Mat channel;
  cv::extractChannel(image, channel, c);
  return channel;
}

GstHarness* harnessFor(const char* factory, const std::vector<std::string>& properties, const std::string& caps) {
  GstElement* element = gst_element_factory_make(factory, nullptr);
  if (element == nullptr) throw std::runtime_error(std::string("no element ") + factory);
  gst_object_ref_sink(element);
  for (const auto& property : properties) {
    const size_t eq = property.find('=');
    gst_util_set_object_arg(G_OBJECT(element), property.substr(0, eq).c_str(), property.substr(eq + 1).c_str());
  }
  GstHarness* harness = gst_harness_new_with_element(element, "sink", "src");
  gst_object_unref(element);
  gst_harness_set_src_caps_str(harness, caps.c_str());
  return harness;
}

std::string formatSizeName(const ::testing::TestParamInfo<std::tuple<Format, cv::Size>>& info) {
  const Format& format = std::get<0>(info.param);
  const cv::Size& size = std::get<1>(info.param);
  return std::string(format.name) + "_" + std::to_string(size.width) + "x" + std::to_string(size.height);
}

int differingValues(const cv::Mat& a, const cv::Mat& b) {
  if (a.size() != b.size() || a.type() != b.type()) return -1;
  cv::Mat diff;
  cv::compare(a.reshape(1), b.reshape(1), diff, cv::CMP_NE);
  return cv::countNonZero(diff);
}

namespace {
void countBuffer(GstElement*, GstBuffer*, GstPad*, gpointer count) { ++*static_cast<int*>(count); }
}  // namespace

RunResult runToEnd(const std::string& launch) {
  RunResult result;
  GError* error = nullptr;
  GstElement* pipeline = gst_parse_launch(launch.c_str(), &error);
  if (pipeline == nullptr) {
    result.error = error != nullptr ? error->message : "parse failed";
    g_clear_error(&error);
    return result;
  }
  if (GstElement* sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink")) {
    g_object_set(sink, "signal-handoffs", TRUE, nullptr);
    g_signal_connect(sink, "handoff", G_CALLBACK(countBuffer), &result.buffers);
    gst_object_unref(sink);
  }
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstBus* bus = gst_element_get_bus(pipeline);
  GstMessage* message = gst_bus_timed_pop_filtered(bus, kPipelineTimeout,
      static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  if (message == nullptr) {
    result.error = "timed out (hung?)";
  } else if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_EOS) {
    result.eos = true;
  } else {
    GError* gerror = nullptr;
    gst_message_parse_error(message, &gerror, nullptr);
    result.error = gerror->message;
    g_error_free(gerror);
  }
  if (message != nullptr) gst_message_unref(message);
  gst_object_unref(bus);
  if (GstElement* sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink")) {
    GstSample* last = nullptr;
    g_object_get(sink, "last-sample", &last, nullptr);
    if (last != nullptr) {
      if (GstCaps* caps = gst_sample_get_caps(last)) {
        const GstStructure* structure = gst_caps_get_structure(caps, 0);
        gst_structure_get_int(structure, "width", &result.width);
        gst_structure_get_int(structure, "height", &result.height);
      }
      gst_sample_unref(last);
    }
    gst_object_unref(sink);
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
  return result;
}

}  // namespace gst_test
