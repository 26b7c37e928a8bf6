// Declarations only (see rendezvous/store.h).
#pragma once

namespace gloo {
class Context;
}  // namespace gloo
