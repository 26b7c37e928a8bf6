/* The derain plugin: registers the derain and rainmake elements.
 *
 * SPDX-License-Identifier: MIT
 */

#include <gst/gst.h>

#include "gstderain.h"
#include "gstrainmake.h"

#ifndef PACKAGE
#define PACKAGE "libderain"
#endif

static gboolean plugin_init(GstPlugin* plugin) {
  gboolean ok = FALSE;
  ok |= GST_ELEMENT_REGISTER(derain, plugin);
  ok |= GST_ELEMENT_REGISTER(rainmake, plugin);
  return ok;
}

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, derain,
    "Rain removal and rain synthesis for video with libderain (DerainCycleGAN)", plugin_init,
    DERAIN_VERSION, "MIT/X11", "libderain", "libderain")  // GStreamer's name for MIT
