#pragma once
// Allocation guard (meson -Dalloc_guard=true, which defines FS_ALLOC_GUARD): malloc and its
// family, and so operator new, are interposed for the whole process (sensor/alloc_guard.cpp);
// a thread that armed the guard aborts with one line naming the call and a backtrace if it
// allocates on the heap. Workers arm it once their loop starts, so "no allocation on a worker
// after start-up" (CONVENTIONS.md) is checked on every packet of every test run in that build.
// Other threads (main, emitter) are never checked.
#include <cstdint>

namespace flowscribe::alloc_guard {

void arm() noexcept;     // this thread: any heap allocation from now on aborts
void disarm() noexcept;  // this thread: allocations are allowed again
bool armed() noexcept;

}  // namespace flowscribe::alloc_guard
