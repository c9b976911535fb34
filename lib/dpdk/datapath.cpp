#include "dpdk/datapath.hpp"

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <cstring>

namespace twtcp::dpdk {

MbufTxSink::~MbufTxSink() {
  rte_pktmbuf_free_bulk(batch_.data(), queued_);
}

void MbufTxSink::transmit(std::span<const std::uint8_t> frame) {
  if (frame.size() > port_.max_frame()) {
    ++stats_.tx_dropped_oversize;
    return;
  }
  rte_mbuf* m = rte_pktmbuf_alloc(port_.pool());
  if (m == nullptr) {
    ++stats_.tx_dropped_no_mbuf;
    return;
  }
  // Cannot fail: the frame fits one segment's tailroom (checked above).
  char* dst = rte_pktmbuf_append(m, static_cast<std::uint16_t>(frame.size()));
  std::memcpy(dst, frame.data(), frame.size());
  batch_[queued_++] = m;
  if (queued_ >= port_.burst()) flush();
}

void MbufTxSink::flush() noexcept {
  if (queued_ == 0) return;
  const std::uint16_t sent = rte_eth_tx_burst(port_.id(), 0, batch_.data(), queued_);
  ++stats_.tx_bursts;
  stats_.tx_frames += sent;
  if (sent < queued_) {
    // No retry: TCP retransmits, and spinning here would stall RX on a full device.
    stats_.tx_dropped_full += queued_ - sent;
    rte_pktmbuf_free_bulk(batch_.data() + sent, queued_ - sent);
  }
  queued_ = 0;
}

unsigned Datapath::poll(Stack& stack, std::uint64_t now_us) {
  ++polls_;
  std::array<rte_mbuf*, kMaxBurst> rx;
  const std::uint16_t n = rte_eth_rx_burst(port_.id(), 0, rx.data(), port_.burst());
  for (std::uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = rx[i];
    if (m->nb_segs != 1) {
      ++rx_multiseg_dropped_;
    } else {
      ++rx_frames_;
      stack.input({rte_pktmbuf_mtod(m, const std::uint8_t*), m->data_len}, now_us);
    }
    rte_pktmbuf_free(m);
  }
  stack.advance(now_us);
  tx_.flush();
  return n;
}

unsigned Datapath::discard_rx(unsigned max_frames) {
  unsigned total = 0;
  std::array<rte_mbuf*, kMaxBurst> rx;
  while (total < max_frames) {
    const std::uint16_t n = rte_eth_rx_burst(port_.id(), 0, rx.data(), kMaxBurst);
    if (n == 0) break;
    rte_pktmbuf_free_bulk(rx.data(), n);
    total += n;
  }
  return total;
}

DatapathStats Datapath::stats() const noexcept {
  DatapathStats s = tx_.stats();
  s.polls = polls_;
  s.rx_frames = rx_frames_;
  s.rx_multiseg_dropped = rx_multiseg_dropped_;
  return s;
}

}  // namespace twtcp::dpdk
