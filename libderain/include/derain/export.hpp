// Symbol visibility of libderain's shared libraries. They are built with hidden visibility, so only
// what a public header marks DERAIN_API is part of the ABI; internals (derain::detail) stay private.
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define DERAIN_API __attribute__((visibility("default")))
#else
#define DERAIN_API
#endif
