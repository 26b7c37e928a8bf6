// rainmake: a GstVideoFilter that adds rain to video, procedurally or with a libderain model.
#pragma once

#include <gst/gst.h>
#include <gst/video/gstvideofilter.h>

G_BEGIN_DECLS

#define GST_TYPE_RAINMAKE (gst_rainmake_get_type())
G_DECLARE_FINAL_TYPE(GstRainmake, gst_rainmake, GST, RAINMAKE, GstVideoFilter)

GST_ELEMENT_REGISTER_DECLARE(rainmake);

G_END_DECLS
