#!/usr/bin/env bash
# Out-of-tree build through pkg-config: stages `meson install` into a temporary DESTDIR, builds
# pkgconfig_app.cpp with only `pkg-config --cflags --libs derain-opencv`, and runs it against the staged
# libraries. Exit 77 (skip) when pkg-config is missing.
# Then builds pkgconfig_core_app.cpp with `pkg-config --cflags --libs derain-core` alone and checks that
# it maps no LibTorch.
# Usage: pkgconfig_build.sh MESON BUILD_ROOT PREFIX LIBDIR APP_SOURCE CORE_APP_SOURCE CXX...
set -euo pipefail
meson=$1 build_root=$2 prefix=$3 libdir=$4 app_source=$5 core_app_source=$6
shift 6
cxx=("$@")

pkg_config=$(command -v pkg-config || command -v pkgconf || true)
if [ -z "$pkg_config" ]; then
  echo "SKIP: no pkg-config"
  exit 77
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/derain-pkgconfig.XXXXXX")
trap 'rm -rf "$stage"' EXIT

# --no-rebuild: meson test has built everything; a rebuild here could race another build.
"$meson" install -C "$build_root" --destdir "$stage/root" --no-rebuild > "$stage/install.log" 2>&1 ||
  { cat "$stage/install.log"; echo "FAIL: meson install"; exit 1; }

staged_prefix=$stage/root$prefix
case $libdir in
  /*) staged_libdir=$stage/root$libdir ;;   # configured with an absolute libdir
  *) staged_libdir=$staged_prefix/$libdir ;;
esac
for name in derain-core derain derain-opencv; do
  [ -f "$staged_libdir/pkgconfig/$name.pc" ] || { echo "FAIL: no $name.pc in $staged_libdir/pkgconfig"; exit 1; }
done

# The file names the configured prefix. --define-variable or PKG_CONFIG_SYSROOT_DIR would also move
# OpenCV's (unstaged) paths, so a copy with only our prefix rewritten stands in for a real install.
mkdir "$stage/pc"
for name in derain-core derain derain-opencv; do
  sed "s|^prefix=.*|prefix=$staged_prefix|" "$staged_libdir/pkgconfig/$name.pc" > "$stage/pc/$name.pc"
  echo "--- $name.pc"; cat "$stage/pc/$name.pc"
done
export PKG_CONFIG_PATH=$stage/pc${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
flags=$("$pkg_config" --cflags --libs derain-opencv)
echo "--- pkg-config --cflags --libs derain-opencv: $flags"
# Ours, and OpenCV's through Requires (its include flags are proven by the compile below).
for needed in "-I$staged_prefix/include" "-L$staged_libdir" -lderain-opencv -lderain -lderain-core -lopencv_core; do
  case " $flags " in
    *" $needed "*) ;;
    *) echo "FAIL: '$needed' missing from the flags"; exit 1 ;;
  esac
done
[ -f "$staged_prefix/include/derain/dnn_derain.hpp" ] || { echo "FAIL: header not installed"; exit 1; }

# Word splitting of $flags is intended: it is a list of compiler arguments.
# shellcheck disable=SC2086
"${cxx[@]}" -std=c++17 "$app_source" -o "$stage/app" $flags

export LD_LIBRARY_PATH=$staged_libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# The staged copies must be the ones loaded, not those in the build tree.
ldd "$stage/app" | { grep -E 'libderain(-opencv|-core)?\.so' || true; } | tee "$stage/ldd.txt"
if grep -v -- "$staged_libdir" "$stage/ldd.txt"; then
  echo "FAIL: a libderain library resolved outside the staged install"; exit 1
fi
[ "$(wc -l < "$stage/ldd.txt")" -eq 3 ] || { echo "FAIL: app does not link the three libraries"; exit 1; }

"$stage/app" "$stage/model.derain" | tee "$stage/app.txt"
grep -qx "derained 24x20 CV_8UC3 preset lite" "$stage/app.txt" || { echo "FAIL: wrong app output"; exit 1; }
grep -qx "unknown target rejected" "$stage/app.txt" || { echo "FAIL: bad target not rejected"; exit 1; }

core_flags=$("$pkg_config" --cflags --libs derain-core)
echo "--- pkg-config --cflags --libs derain-core: $core_flags"
case " $core_flags " in *" -lderain "*|*torch*) echo "FAIL: derain-core's flags pull in inference"; exit 1 ;; esac
# shellcheck disable=SC2086
"${cxx[@]}" -std=c++17 "$core_app_source" -o "$stage/core_app" $core_flags
if ldd "$stage/core_app" | grep -E 'libtorch|libc10|libderain\.so'; then
  echo "FAIL: a rain-synthesis application loads the inference library or LibTorch"; exit 1
fi
"$stage/core_app" | tee "$stage/core_app.txt"
grep -qx "inference loaded 0" "$stage/core_app.txt" || { echo "FAIL: wrong core app output"; exit 1; }
grep -qE "^rained pixels [1-9][0-9]*$" "$stage/core_app.txt" || { echo "FAIL: no rain rendered"; exit 1; }
echo "PASS"
