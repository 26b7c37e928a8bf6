#!/usr/bin/env bash
# Installs every Debian 12 package libderain needs to build, test and run. Idempotent: a
# package that is already installed costs nothing, so CI and setup can call this every time.
set -euo pipefail

PACKAGES=(
  build-essential pkg-config cmake meson ninja-build
  libtorch-dev libopenblas0-openmp         # LibTorch (CPU) + a fast BLAS for it
  libdnnl-dev                              # oneDNN's API: the library LibTorch's convolutions use
  libopencv-dev                            # images, video I/O, the dnn-style wrapper
  libglib2.0-dev libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-libav                       # H.264 decoding (most .mp4 files and IP cameras)
  libgtest-dev libgmock-dev                # test suites
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
