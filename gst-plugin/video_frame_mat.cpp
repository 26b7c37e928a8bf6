#include "video_frame_mat.h"

#include <opencv2/imgproc.hpp>

namespace derain_gst {

cv::Mat frameMat(GstVideoFrame* frame) {
  const int channels = GST_VIDEO_FRAME_COMP_PSTRIDE(frame, 0);  // bytes per pixel of a packed format
  return cv::Mat(GST_VIDEO_FRAME_HEIGHT(frame), GST_VIDEO_FRAME_WIDTH(frame), CV_8UC(channels),
                 GST_VIDEO_FRAME_PLANE_DATA(frame, 0),
                 static_cast<size_t>(GST_VIDEO_FRAME_PLANE_STRIDE(frame, 0)));
}

derain::ColorOrder colorOrder(GstVideoFormat format) {
  switch (format) {
    case GST_VIDEO_FORMAT_BGR:
    case GST_VIDEO_FORMAT_BGRA:
    case GST_VIDEO_FORMAT_BGRx:
      return derain::ColorOrder::BGR;
    default:
      return derain::ColorOrder::RGB;
  }
}

cv::Mat packedColour(const cv::Mat& frame, cv::Mat& scratch) {
  if (frame.channels() == 3) {
    // Odd widths give padded rows; libderain gets a continuous copy so it may treat rows as one block.
    if (frame.isContinuous()) return frame;
    frame.copyTo(scratch);
    return scratch;
  }
  // RGBA -> RGB only drops the 4th channel, whatever the colour order is.
  cv::cvtColor(frame, scratch, cv::COLOR_RGBA2RGB);
  return scratch;
}

void writeColour(const cv::Mat& colour, const cv::Mat& in, cv::Mat& out) {
  CV_Assert(colour.type() == CV_8UC3 && colour.size() == out.size());
  if (out.channels() == 3) {
    colour.copyTo(out);  // out has the right size and type, so this writes into the frame itself
    return;
  }
  // Channels numbered across {colour, in}: colour 0..2, in 3..6; in's 4th channel is 6.
  const cv::Mat sources[] = {colour, in};
  const int from_to[] = {0, 0, 1, 1, 2, 2, 6, 3};
  cv::mixChannels(sources, 2, &out, 1, from_to, 4);
}

}  // namespace derain_gst
