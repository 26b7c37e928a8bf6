// derain: a GstVideoFilter that removes rain streaks with a libderain (DerainCycleGAN) model.
#pragma once

#include <gst/gst.h>
#include <gst/video/gstvideofilter.h>

G_BEGIN_DECLS

#define GST_TYPE_DERAIN (gst_derain_get_type())
G_DECLARE_FINAL_TYPE(GstDerain, gst_derain, GST, DERAIN, GstVideoFilter)

GST_ELEMENT_REGISTER_DECLARE(derain);

G_END_DECLS
