#include "dpdk/datapath.hpp"

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <cstring>

namespace twtcp::dpdk {

namespace {
constexpr std::size_t kEthLen = 14;
}  // namespace

MbufTxSink::MbufTxSink(Port& port, std::uint16_t queue)
    : port_(port),
      queue_(queue),
      csum_(port.tx_checksum_offloads()),
      data_offset_(sizeof(rte_mbuf) + rte_pktmbuf_priv_size(port.pool()) + RTE_PKTMBUF_HEADROOM) {}

MbufTxSink::~MbufTxSink() {
  rte_pktmbuf_free_bulk(batch_.data(), queued_);
  rte_pktmbuf_free(open_);
  if (ahead_ != nullptr) rte_mbuf_raw_free(ahead_);
}

// An mbuf comes back from the peer that read it (another core, or the NIC), so its lines are
// not this core's: resetting its header and writing a frame's headers would each stall on
// fetching them. The mbuf one frame ahead is therefore taken raw (rte_mbuf_raw_alloc: no
// field touched) and its two header lines and first four data lines (headers and ~190 bytes
// of payload: a request or a small response) requested for writing, so they arrive while
// the current frame is built; its data address follows from the pool's
// layout (rte_pktmbuf_init: buf_addr = mbuf + sizeof(rte_mbuf) + priv_size) without reading
// the header.
rte_mbuf* MbufTxSink::take_mbuf() noexcept {
  rte_mbuf* m = ahead_;
  ahead_ = rte_mbuf_raw_alloc(port_.pool());
  if (ahead_ != nullptr) {
    const auto* h = reinterpret_cast<const char*>(ahead_);
    for (unsigned line = 0; line < 2; ++line)
      __builtin_prefetch(h + line * RTE_CACHE_LINE_SIZE, 1, 3);
    for (unsigned line = 0; line < 4; ++line) {
      __builtin_prefetch(h + data_offset_ + line * RTE_CACHE_LINE_SIZE, 1, 3);
    }
  }
  if (m == nullptr) return rte_pktmbuf_alloc(port_.pool());
  rte_pktmbuf_reset(m);
  return m;
}

void MbufTxSink::enqueue(rte_mbuf* m, std::uint16_t len) noexcept {
  m->data_len = len;
  m->pkt_len = len;
  if (csum_.ipv4 || csum_.tcp) {
    // Only the Stack's TCP segments were built for the device to finish; ARP and ICMP from
    // lib/neigh carry their checksums already and go as they are.
    const auto* f = rte_pktmbuf_mtod(m, const std::uint8_t*);
    if (len >= kEthLen + 40 && f[12] == 0x08 && f[13] == 0x00 && f[kEthLen + 9] == 6) {
      const std::uint16_t l3 = (f[kEthLen] & 0x0f) * 4u;
      if (len >= kEthLen + l3 + 20u) {
        m->l2_len = kEthLen;
        m->l3_len = l3;
        m->l4_len = (f[kEthLen + l3 + 12] >> 4) * 4u;
        m->ol_flags |= RTE_MBUF_F_TX_IPV4 | (csum_.ipv4 ? RTE_MBUF_F_TX_IP_CKSUM : 0) |
                       (csum_.tcp ? RTE_MBUF_F_TX_TCP_CKSUM : 0);
        ++stats_.tx_csum_offloaded;
      }
    }
  }
  batch_[queued_++] = m;
  if (queued_ >= port_.burst()) flush();
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
  // Fits: a fresh mbuf's tailroom is max_frame().
  std::memcpy(rte_pktmbuf_mtod(m, std::uint8_t*), frame.data(), frame.size());
  enqueue(m, static_cast<std::uint16_t>(frame.size()));
}

std::span<std::uint8_t> MbufTxSink::tx_begin(std::size_t max_len) {
  if (max_len > port_.max_frame()) return {};
  if (open_ == nullptr) {
    open_ = take_mbuf();
    if (open_ == nullptr) return {};
  }
  return {rte_pktmbuf_mtod(open_, std::uint8_t*), port_.max_frame()};
}

void MbufTxSink::tx_commit(std::size_t len) {
  if (open_ == nullptr || len == 0) return;
  if (len > port_.max_frame()) {
    ++stats_.tx_dropped_oversize;
    return;
  }
  rte_mbuf* m = open_;
  open_ = nullptr;
  ++stats_.tx_built_in_mbuf;
  enqueue(m, static_cast<std::uint16_t>(len));
  open_ = take_mbuf();  // for the next frame, with its lines on their way (take_mbuf)
}

void MbufTxSink::flush() noexcept {
  if (queued_ == 0) return;
  const std::uint16_t sent = rte_eth_tx_burst(port_.id(), queue_, batch_.data(), queued_);
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
  // One input_burst() for the whole RX burst: the Stack overlaps its lookups' cache misses.
  std::array<RxFrame, kMaxBurst> frames;
  std::size_t k = 0;
  for (std::uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = rx[i];
    if (m->nb_segs != 1) {
      ++rx_multiseg_dropped_;
    } else {
      ++rx_frames_;
      frames[k++] = RxFrame{{rte_pktmbuf_mtod(m, const std::uint8_t*), m->data_len},
                            rx_checksums(m, port_.rx_checksum_offloads(), rx_csum_)};
    }
  }
  if (k != 0) stack.input_burst(std::span(frames.data(), k), now_us);
  rte_pktmbuf_free_bulk(rx.data(), n);
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
  s.rx_csum_verified = rx_csum_.rx_csum_verified;
  s.rx_csum_bad = rx_csum_.rx_csum_bad;
  return s;
}

namespace {
RxChecksum verdict(std::uint64_t flags, std::uint64_t mask, std::uint64_t good,
                   std::uint64_t bad) noexcept {
  const std::uint64_t f = flags & mask;
  if (f == good || f == mask) return RxChecksum::kGood;  // mask = both bits = NONE
  if (f == bad) return RxChecksum::kBad;
  return RxChecksum::kUnchecked;
}
}  // namespace

RxChecksums rx_checksums(const rte_mbuf* m, ChecksumOffloads enabled,
                         DatapathStats& stats) noexcept {
  RxChecksums r;
  if (enabled.ipv4) {
    r.ipv4 = verdict(m->ol_flags, RTE_MBUF_F_RX_IP_CKSUM_MASK, RTE_MBUF_F_RX_IP_CKSUM_GOOD,
                     RTE_MBUF_F_RX_IP_CKSUM_BAD);
  }
  if (enabled.tcp) {
    r.tcp = verdict(m->ol_flags, RTE_MBUF_F_RX_L4_CKSUM_MASK, RTE_MBUF_F_RX_L4_CKSUM_GOOD,
                    RTE_MBUF_F_RX_L4_CKSUM_BAD);
  }
  if (r.ipv4 == RxChecksum::kBad || r.tcp == RxChecksum::kBad) {
    ++stats.rx_csum_bad;
  } else if (r.ipv4 == RxChecksum::kGood || r.tcp == RxChecksum::kGood) {
    ++stats.rx_csum_verified;
  }
  return r;
}

}  // namespace twtcp::dpdk
