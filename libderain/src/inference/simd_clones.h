// Per-pixel passes compiled once per instruction set and picked once at load time (GCC's
// target_clones, an ifunc): the x86-64 baseline the library is built for has 4-wide float vectors,
// AVX-512 16-wide. Only on functions, not templates (neither GCC nor clang clones templates): a
// clone is a plain function whose body inlines a template (always_inline, so the template is
// compiled for the clone's instruction set). The files whose passes match LibTorch's operators bit
// for bit are built with -ffp-contract=off (libderain/meson.build): otherwise the AVX2 and AVX-512
// clones fuse products and sums into FMAs, one rounding where the operators take two.
// Built with clang (the sanitizer run, scripts/hardening.sh) the macro is empty: the tests that
// compare these passes with LibTorch's operators then check the plain x86-64 code, and GCC builds on
// this project's machines check the AVX-512 clones.
#pragma once

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define DERAIN_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define DERAIN_SIMD_CLONES
#endif
