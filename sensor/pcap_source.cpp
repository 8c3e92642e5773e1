#include "sensor/pcap_source.h"

#include <rte_mbuf_dyn.h>
#include <rte_prefetch.h>

#include <algorithm>
#include <cstring>

namespace flowscribe::sensor {

absl::Status PcapSource::register_timestamp(int& offset, uint64_t& flag) {
  int bit = -1;
  if (rte_mbuf_dyn_rx_timestamp_register(&offset, nullptr) != 0) {
    return absl::InternalError("cannot register the mbuf timestamp field");
  }
  bit = rte_mbuf_dynflag_lookup(RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME, nullptr);
  if (bit < 0) return absl::InternalError("cannot register the mbuf timestamp flag");
  flag = 1ULL << bit;
  return absl::OkStatus();
}

PcapSource::PcapSource(std::unique_ptr<PcapFile> file, std::vector<std::string> paths,
                       rte_mempool* pool, int ts_offset, uint64_t ts_flag)
    : file_(std::move(file)),
      paths_(std::move(paths)),
      results_(paths_.size()),
      pool_(pool),
      ts_offset_(ts_offset),
      ts_flag_(ts_flag) {}

void PcapSource::record_current() {
  if (recorded_) return;
  recorded_ = true;
  PcapFileResult& r = results_[cur_];
  r.records = file_->records();
  r.damage_offset = file_->damage_offset();
  const std::string_view d = file_->damage();
  const size_t n = std::min(d.size(), sizeof r.damage - 1);
  std::memcpy(r.damage, d.data(), n);
  r.damage[n] = '\0';
}

bool PcapSource::advance() {
  record_current();
  bytes_done_ += file_->offset();
  while (next_ < paths_.size()) {
    cur_ = next_++;
    recorded_ = false;
    if (file_->reopen(paths_[cur_].c_str())) return true;
    record_current();  // could not be read: its result says why
  }
  return false;
}

const std::vector<PcapFileResult>& PcapSource::results() {
  record_current();  // the last file read (or the one a signal stopped in)
  return results_;
}

bool PcapSource::copy_chained(rte_mbuf* head, const PcapRecord& r) {
  uint32_t off = 0;
  rte_mbuf* seg = head;
  rte_mbuf* last = nullptr;
  while (off < r.caplen) {
    if (seg == nullptr) {
      seg = rte_pktmbuf_alloc(pool_);
      if (seg == nullptr) return false;  // the caller frees the chain built so far
      last->next = seg;
      ++head->nb_segs;
    }
    const uint32_t n = std::min<uint32_t>(r.caplen - off, rte_pktmbuf_tailroom(seg));
    std::memcpy(rte_pktmbuf_mtod(seg, uint8_t*), r.data + off, n);
    seg->data_len = static_cast<uint16_t>(n);
    off += n;
    last = seg;
    seg = nullptr;
  }
  head->pkt_len = r.caplen;
  return true;
}

uint16_t PcapSource::rx_burst(rte_mbuf** pkts, uint16_t n) {
  waiting_ = false;
  if (file_->done() && !advance()) return 0;
  PcapRecord r;
  if (!file_->peek(r)) {
    // Nothing to take (a quiet pipe, read-ahead behind): no mbufs allocated only to be freed.
    waiting_ = !file_->done();
    return 0;
  }
  if (rte_pktmbuf_alloc_bulk(pool_, pkts, n) != 0) {
    // Fewer free than a burst: take what there is, one at a time.
    uint16_t k = 0;
    while (k < n && (pkts[k] = rte_pktmbuf_alloc(pool_)) != nullptr) ++k;
    n = k;
    if (n == 0) return 0;
  }
  uint16_t got = 0;
  while (got < n) {
    if (!file_->peek(r)) {
      waiting_ = !file_->done();  // read-ahead has not read the bytes yet
      break;
    }
    rte_mbuf* m = pkts[got];
    // The records lie one after the other: ask for the lines ~2 KiB ahead of this one, each
    // line once, so the copies below find them in cache (with read-ahead they were written
    // by another core, long before). A jump (a refill, the ring's wrap) restarts the cursor.
    // (An address, not a pointer: the cursor runs past the bytes that exist.)
    const uintptr_t at = reinterpret_cast<uintptr_t>(r.data);
    if (prefetched_ < at || prefetched_ > at + 2 * kPrefetchAhead) prefetched_ = at;
    while (prefetched_ < at + r.caplen + kPrefetchAhead) {
      rte_prefetch0(reinterpret_cast<const void*>(prefetched_));
      prefetched_ += RTE_CACHE_LINE_SIZE;
    }
    if (r.caplen <= rte_pktmbuf_tailroom(m)) {
      std::memcpy(rte_pktmbuf_mtod(m, uint8_t*), r.data, r.caplen);
      m->data_len = static_cast<uint16_t>(r.caplen);
      m->pkt_len = r.caplen;
    } else if (!copy_chained(m, r)) {
      // Out of mbufs for a long frame: keep the record for the next burst.
      rte_pktmbuf_free(m);
      pkts[got] = nullptr;
      break;
    }
    if (ts_offset_ >= 0) {
      *RTE_MBUF_DYNFIELD(m, ts_offset_, rte_mbuf_timestamp_t*) = r.ts_ns;
      m->ol_flags |= ts_flag_;
    }
    file_->consume();
    ++got;
  }
  if (got < n) rte_pktmbuf_free_bulk(pkts + got, n - got);  // NULL entries allowed
  file_->release();  // every record taken is in an mbuf: read-ahead may reuse their bytes
  bytes_read_.store(bytes_done_ + file_->offset(), std::memory_order_relaxed);
  return got;
}

}  // namespace flowscribe::sensor
