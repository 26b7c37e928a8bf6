// Paired synthetic rainy video from one still clean image: a moving camera over the still and temporally
// coherent rain, for evaluating (and training) video deraining. Torch-free, deterministic for a seed.
//
// Camera: each frame is a similarity warp (scale, rotation, translation) of the still, chosen so that the
// window always lies inside the still (no borders): the still is magnified as much as the motion needs.
//   static  - the same window every frame;
//   pan     - the window slides horizontally at a constant speed;
//   zoom    - the window shrinks about its centre (zoom in) at a constant rate;
//   forward - dashcam-like expansion about a focus of expansion above the centre, accelerating, with a
//             slight vertical bob;
//   shake   - hand-held jitter: smooth random translation and rotation about a fixed window.
// Rain: particles in screen space (near the camera) that fall along the rain direction with a per-drop
// speed proportional to their streak length (a streak is the drop's motion blur during the exposure), so a
// drop seen in frame t is further down in frame t+1: consecutive frames share the same drops. Streaks are
// rendered like derain/rain.hpp (Gaussian cross-section, tapered ends, additive with clipping, optional
// veil). Moving object (optional): an opaque textured sprite crossing the frame in screen space, behind
// the rain, with its mask per frame so ghosting can be measured.
#pragma once

#include "derain/export.hpp"

#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "derain/rain.hpp"

namespace derain {

enum class CameraMotion { Static, Pan, Zoom, Forward, Shake };

// "static", "pan", "zoom", "forward", "shake"; anything else throws derain::Error naming the words.
DERAIN_API CameraMotion parseCameraMotion(const std::string& word);
DERAIN_API std::string toString(CameraMotion motion);

struct DERAIN_API RainVideoParams {
  cv::Size size{640, 360};   // output frame size, each side in [16, 4096]
  int frames = 30;           // sequence length, [1, 10000]
  CameraMotion motion = CameraMotion::Static;
  double motion_speed = 1.0; // multiplies the mode's typical speed, [0, 4] (1: pan 4 px/frame, zoom 1.2 %/frame,
                             // shake ~3 px); 0 = a still camera whatever the mode
  // Streak look: density, angle, angle_jitter (fixed per drop), length, width, intensity, haze, as for a
  // still image (RainParams::validate ranges). rain.seed is not used: `seed` below drives everything.
  RainParams rain;
  double fall_speed = 2.0;   // how far a drop falls between frames, in units of its streak length, [0.25, 10]
                             // (2 = a shutter open half of the frame interval)
  bool moving_object = false;  // add a sprite crossing the frame (see object_masks)
  uint64_t seed = 0;           // rain particles, camera shake, sprite look and path

  // Throws derain::Error naming the first field outside its range (or NaN).
  void validate() const;
};

struct RainVideo {
  std::vector<cv::Mat> rainy;         // CV_8UC3, `frames` of them, the still's channel order
  std::vector<cv::Mat> clean;         // the same frames without rain (ground truth)
  std::vector<cv::Mat> object_masks;  // CV_8UC1, 255 on the moving object; empty when there is none
};

// Makes the sequence from a CV_8UC3 still of any size >= 2x2 (it is magnified as needed; a small still
// gives soft frames). Same still, params and seed -> the same bytes. Throws derain::Error on bad input.
DERAIN_API RainVideo makeRainVideo(const cv::Mat& still, const RainVideoParams& params);

}  // namespace derain
