// Declarations only (see rendezvous/store.h): nothing of it is needed.
#pragma once
