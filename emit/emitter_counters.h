#pragma once
// The emitter's counters and inputs, shared by the emitter core and the format cores.
#include <rte_mempool.h>
#include <rte_ring.h>

#include <algorithm>

#include "common/counters.h"
#include "emit/record.h"

namespace flowscribe::emit {

#define FS_EMITTER_COUNTERS(X)                                                          \
  X(emitter_records, "records formatted")                                                \
  X(emitter_continuations, "continuation slots read with their record (records longer than one slot)") \
  X(emitter_bytes, "bytes of formatted records")                                         \
  X(emitter_reopens, "outputs reopened on SIGHUP")

FS_DEFINE_COUNTERS(EmitterCounters, FS_EMITTER_COUNTERS);

struct EmitterInput {
  rte_ring* ring = nullptr;      // Record* from one worker (single producer, single consumer)
  rte_mempool* pool = nullptr;   // where those records go back
};

// Takes one burst of up to `burst` slots off `in`, calls on_chain(chain, k) once per record
// (the record and its k - 1 continuation slots, Record::more), then returns the slots to
// their pool. `recs` has room for burst + kMaxContinuations. Returns the slots taken. Used by
// the emitter and by the format cores.
template <typename F>
unsigned drain_input(EmitterInput& in, Record** recs, unsigned burst, EmitterCounters& c,
                     F&& on_chain) {
  unsigned n = rte_ring_sc_dequeue_burst(in.ring, reinterpret_cast<void**>(recs), burst, nullptr);
  unsigned records = 0;
  for (unsigned i = 0; i < n;) {
    // A record and its continuation slots are one line. The worker enqueued them at once, so
    // those the burst did not take are in the ring already.
    unsigned k = 1 + std::min<unsigned>(recs[i]->more, kMaxContinuations);
    if (i + k > n) {
      const unsigned rest = i + k - n;
      if (rte_ring_sc_dequeue_bulk(in.ring, reinterpret_cast<void**>(recs + n), rest,
                                   nullptr) == rest) {
        n += rest;
      } else {
        k = n - i;  // cannot happen (enqueued at once): format what there is
      }
    }
    c.emitter_continuations.inc(k - 1);
    const Record* const* chain = recs + i;
    on_chain(chain, k);
    i += k;
    ++records;
  }
  if (n) rte_mempool_put_bulk(in.pool, reinterpret_cast<void**>(recs), n);
  c.emitter_records.inc(records);
  return n;
}

}  // namespace flowscribe::emit
