#include "dpdk/soft_rss.hpp"

#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <array>

namespace twtcp::dpdk {
namespace {

std::uint16_t be16(const std::uint8_t* p) noexcept {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
std::uint32_t be32(const std::uint8_t* p) noexcept {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}

}  // namespace

SoftRss::SoftRss(std::uint16_t workers) : workers_(workers) {
  const std::vector<std::uint16_t> reta = flow::round_robin_reta(kRetaSize, workers);
  steering_.reserve(workers);
  for (std::uint16_t w = 0; w < workers; ++w) {
    steering_.emplace_back(flow::kSymmetricRssKey, reta, w);
  }
}

std::unique_ptr<SoftRss> SoftRss::create(const std::string& name, std::uint16_t workers,
                                         unsigned ring_size, std::string* error) {
  if (workers == 0) {
    *error = "soft RSS: no workers";
    return nullptr;
  }
  std::unique_ptr<SoftRss> s(new SoftRss(workers));
  for (std::uint16_t w = 0; w < workers; ++w) {
    const std::string ring_name = name + "_" + std::to_string(w);
    rte_ring* r = rte_ring_create(ring_name.c_str(), ring_size, static_cast<int>(rte_socket_id()),
                                  RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (r == nullptr) {
      *error = "soft RSS: rte_ring_create(" + ring_name + "): " + rte_strerror(rte_errno);
      return nullptr;  // the destructor frees the rings made so far
    }
    s->rings_.push_back(r);
  }
  return s;
}

SoftRss::~SoftRss() {
  for (rte_ring* r : rings_) {
    void* m = nullptr;
    while (rte_ring_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
    rte_ring_free(r);
  }
}

SoftRssTarget SoftRss::classify(const std::uint8_t* f, std::uint32_t len) const noexcept {
  constexpr std::uint32_t kEth = 14;
  if (len < kEth) return {};
  const std::uint16_t type = be16(f + 12);
  if (type == 0x0806) {
    // ARP reply (opcode 2): every worker may be waiting for it. Requests: worker 0 answers.
    if (len >= kEth + 8 && be16(f + kEth + 6) == 2) return {SoftRssTarget::kAllWorkers, 0};
    return {};
  }
  if (type != 0x0800 || len < kEth + 20) return {};
  const std::uint8_t* ip = f + kEth;
  const std::uint32_t ihl = (ip[0] & 0x0f) * 4u;
  const bool fragment = (be16(ip + 6) & 0x3fff) != 0;  // MF or an offset: no ports to hash
  if ((ip[0] >> 4) != 4 || ihl < 20 || ip[9] != 6 || fragment || len < kEth + ihl + 4) return {};
  const std::uint8_t* tcp = ip + ihl;
  const std::uint16_t w =
      steering_[0].queue_of(be32(ip + 12), be32(ip + 16), be16(tcp), be16(tcp + 2));
  return {SoftRssTarget::kWorker, w};
}

bool SoftRss::hand_to(std::uint16_t w, rte_mbuf* m) noexcept {
  if (rte_ring_sp_enqueue(rings_[w], m) == 0) return true;
  ++stats_.dropped_full;
  rte_pktmbuf_free(m);
  return false;
}

unsigned SoftRss::dispatch(rte_mbuf** frames, unsigned n, std::uint16_t self,
                           rte_mbuf** mine) noexcept {
  unsigned kept = 0;
  for (unsigned i = 0; i < n; ++i) {
    rte_mbuf* m = frames[i];
    const SoftRssTarget t =
        classify(rte_pktmbuf_mtod(m, const std::uint8_t*), rte_pktmbuf_data_len(m));
    if (t.kind == SoftRssTarget::kAllWorkers) {
      ++stats_.broadcast;
      // One reference per other worker; each frees its own.
      rte_mbuf_refcnt_update(m, static_cast<std::int16_t>(workers_ - 1));
      for (std::uint16_t w = 0; w < workers_; ++w) {
        if (w != self) hand_to(w, m);
      }
      mine[kept++] = m;
    } else if (t.worker == self) {
      ++stats_.kept;
      mine[kept++] = m;
    } else if (hand_to(t.worker, m)) {
      ++stats_.dispatched;
    }
  }
  return kept;
}

unsigned SoftRss::receive(std::uint16_t w, rte_mbuf** out, unsigned max) noexcept {
  return rte_ring_sc_dequeue_burst(rings_[w], reinterpret_cast<void**>(out), max, nullptr);
}

}  // namespace twtcp::dpdk
