#pragma once
// Prefetch hints the compiler keeps. GCC 12 at -O2/-O3 deletes a __builtin_prefetch whose
// address it computes from a load under a branch: FlowTable::prefetch_flow (bucket, match
// mask, then the flow record) compiled to nothing, so the worker's stage-2 prefetch of flow
// records never ran (found 2026-11-29 by reading the worker's disassembly). An asm volatile
// statement cannot be removed; DPDK's rte_prefetch0 is written the same way, but the flow
// table does not depend on DPDK.

namespace flowscribe {

// Read prefetch into every cache level (PREFETCHT0).
inline void prefetch_read(const void* p) noexcept {
  asm volatile("prefetcht0 %[p]" : : [p] "m"(*static_cast<const volatile char*>(p)));
}

// Prefetch for writing (PREFETCHW: the line comes exclusive, so the store that follows need
// not wait for another core to give it up). Older Intel cores execute it as a NOP.
inline void prefetch_write(const void* p) noexcept {
  asm volatile("prefetchw %[p]" : : [p] "m"(*static_cast<const volatile char*>(p)));
}

}  // namespace flowscribe
