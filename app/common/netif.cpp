// app/common/netif.cpp
#include "common/netif.hpp"

#include <fcntl.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_pcapng.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "wire/bytes.hpp"
#include "wire/checksum.hpp"

namespace twtcp::app {

// rte_pcapng wants mbufs: each frame is copied into a capture mbuf from its own pool, so the
// datapath's pool is never drained by the capture.
class PcapWriter {
 public:
  static std::unique_ptr<PcapWriter> open(const std::string& path, std::uint16_t port,
                                          std::string* error) {
    auto w = std::unique_ptr<PcapWriter>(new PcapWriter);
    w->port_ = port;
    w->fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (w->fd_ < 0) {
      *error = "--pcap " + path + ": " + std::strerror(errno);
      return nullptr;
    }
    w->pool_ = rte_pktmbuf_pool_create(("pcap" + std::to_string(port)).c_str(), 1023, 0, 0,
                                       rte_pcapng_mbuf_size(kSnap), SOCKET_ID_ANY);
    w->tmp_pool_ = rte_pktmbuf_pool_create(("pcaptmp" + std::to_string(port)).c_str(), 63, 0, 0,
                                           RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    w->pc_ = rte_pcapng_fdopen(w->fd_, nullptr, nullptr, "twtcp", nullptr);
    if (w->pool_ == nullptr || w->tmp_pool_ == nullptr || w->pc_ == nullptr) {
      *error = "--pcap " + path + ": cannot set up rte_pcapng";
      return nullptr;
    }
    return w;
  }
  ~PcapWriter() {
    flush();
    if (pc_ != nullptr) {
      rte_pcapng_close(pc_);  // closes fd_
    } else if (fd_ >= 0) {
      ::close(fd_);
    }
    rte_mempool_free(pool_);
    rte_mempool_free(tmp_pool_);
  }

  // false: the frame could not be captured (no mbuf).
  bool record(const rte_mbuf* m, bool out) {
    rte_mbuf* c = rte_pcapng_copy(port_, 0, m, pool_, kSnap, rte_get_tsc_cycles(),
                                  out ? RTE_PCAPNG_DIRECTION_OUT : RTE_PCAPNG_DIRECTION_IN);
    if (c == nullptr) return false;
    batch_[n_++] = c;
    if (n_ == batch_.size()) flush();
    return true;
  }
  // `fill`: checksums the device will compute, filled in the copy so that the capture shows
  // the frame as it goes on the wire.
  bool record(std::span<const std::uint8_t> frame, bool out, ChecksumOffloads fill = {}) {
    rte_mbuf* m = rte_pktmbuf_alloc(tmp_pool_);
    if (m == nullptr) return false;
    char* d = rte_pktmbuf_append(m, static_cast<std::uint16_t>(frame.size()));
    bool ok = false;
    if (d != nullptr) {
      std::memcpy(d, frame.data(), frame.size());
      if (fill.ipv4 || fill.tcp)
        fill_checksums({reinterpret_cast<std::uint8_t*>(d), frame.size()}, fill);
      ok = record(m, out);
    }
    rte_pktmbuf_free(m);
    return ok;
  }
  static void fill_checksums(std::span<std::uint8_t> f, ChecksumOffloads fill) {
    constexpr std::size_t kIp = 14;
    if (f.size() < kIp + 40 || f[12] != 0x08 || f[13] != 0x00 || f[kIp + 9] != 6) return;
    const std::size_t ihl = (f[kIp] & 0x0fu) * 4u;
    const std::size_t ip_len = wire::load_be16(&f[kIp + 2]);
    if (ihl < 20 || ip_len < ihl + 20 || kIp + ip_len > f.size()) return;
    if (fill.ipv4) {
      wire::store_be16(&f[kIp + 10], 0);
      wire::store_be16(&f[kIp + 10], wire::internet_checksum(f.subspan(kIp, ihl)));
    }
    // The field holds the pseudo-header sum: summing the segment over it completes it.
    if (fill.tcp) {
      const auto seg = f.subspan(kIp + ihl, ip_len - ihl);
      wire::store_be16(&seg[16], wire::internet_checksum(seg));
    }
  }
  void flush() {
    if (n_ == 0) return;
    rte_pcapng_write_packets(pc_, batch_.data(), n_);
    rte_pktmbuf_free_bulk(batch_.data(), n_);
    n_ = 0;
  }

 private:
  PcapWriter() = default;
  static constexpr std::uint32_t kSnap = 2048;
  std::uint16_t port_ = 0;
  int fd_ = -1;
  rte_mempool* pool_ = nullptr;
  rte_mempool* tmp_pool_ = nullptr;
  rte_pcapng_t* pc_ = nullptr;
  std::array<rte_mbuf*, 32> batch_{};
  unsigned n_ = 0;
};

NetIf::NetIf(dpdk::Port& port, const neigh::NeighborConfig& ncfg, std::uint16_t worker,
             dpdk::SoftRss* soft_rss)
    : port_(port), worker_(worker), soft_rss_(soft_rss), sink_(port, worker), neigh_(ncfg, tap_) {
  tap_.self = this;
}

NetIf::~NetIf() = default;

bool NetIf::open_pcap(const std::string& path, std::string* error) {
  pcap_ = PcapWriter::open(path, port_.id(), error);
  return pcap_ != nullptr;
}

void NetIf::capture_tx(std::span<const std::uint8_t> f) {
  if (pcap_->record(f, true, sink_.offloads())) {
    ++stats_.pcap_frames;
  } else {
    ++stats_.pcap_dropped;
  }
}

void NetIf::TxTap::transmit(std::span<const std::uint8_t> f) {
  if (self->pcap_ != nullptr) self->capture_tx(f);
  self->sink_.transmit(f);
}

std::span<std::uint8_t> NetIf::TxTap::tx_begin(std::size_t max_len) {
  lent = self->sink_.tx_begin(max_len);
  return lent;
}

void NetIf::TxTap::tx_commit(std::size_t len) {
  if (self->pcap_ != nullptr && len != 0 && len <= lent.size()) self->capture_tx(lent.first(len));
  lent = {};
  self->sink_.tx_commit(len);
}

unsigned NetIf::poll(Stack& stack, std::uint64_t now_us) {
  std::array<rte_mbuf*, dpdk::kMaxBurst> rx;
  std::uint16_t n = 0;
  if (port_.hardware_rss() || soft_rss_ == nullptr) {
    n = rte_eth_rx_burst(port_.id(), port_.hardware_rss() ? worker_ : 0, rx.data(), port_.burst());
  } else if (worker_ == 0) {
    // No RSS in the device: read its RX queues in turn (one burst per poll) and hand the
    // other workers their frames.
    std::array<rte_mbuf*, dpdk::kMaxBurst> burst;
    const std::uint16_t q = next_rx_queue_;
    next_rx_queue_ = static_cast<std::uint16_t>((q + 1) % port_.rx_queues());
    const std::uint16_t got = rte_eth_rx_burst(port_.id(), q, burst.data(), port_.burst());
    n = static_cast<std::uint16_t>(soft_rss_->dispatch(burst.data(), got, 0, rx.data()));
  } else {
    n = static_cast<std::uint16_t>(soft_rss_->receive(worker_, rx.data(), port_.burst()));
  }
  // The Stack takes the burst at once (its lookups overlap); the mbufs stay ours until then.
  std::array<RxFrame, dpdk::kMaxBurst> to_stack;
  std::size_t m_to_stack = 0;
  for (std::uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = rx[i];
    ++stats_.rx_frames;
    if (m->nb_segs != 1) {
      ++stats_.rx_multiseg_dropped;
      continue;
    }
    if (pcap_ != nullptr) {
      if (pcap_->record(m, false)) {
        ++stats_.pcap_frames;
      } else {
        ++stats_.pcap_dropped;
      }
    }
    const std::span<const std::uint8_t> frame{rte_pktmbuf_mtod(m, const std::uint8_t*),
                                              m->data_len};
    if (!neigh_.input(frame, now_us)) {
      ++stats_.rx_to_stack;
      to_stack[m_to_stack++] =
          RxFrame{frame, dpdk::rx_checksums(m, port_.rx_checksum_offloads(), rx_csum_)};
    }
  }
  if (m_to_stack != 0) stack.input_burst(std::span(to_stack.data(), m_to_stack), now_us);
  rte_pktmbuf_free_bulk(rx.data(), n);
  stack.advance(now_us);
  neigh_.advance(now_us);
  sink_.flush();
  if (pcap_ != nullptr && n == 0) pcap_->flush();
  return n;
}

std::unique_ptr<Host> Host::open(const HostOptions& o, const Config& cfg, std::string* error) {
  std::uint16_t port_id = o.port_id;
  if (port_id == UINT16_MAX) {
    port_id = static_cast<std::uint16_t>(rte_eth_find_next(0));
    if (port_id >= RTE_MAX_ETHPORTS) {
      *error = "no DPDK port: give EAL args, e.g. --vdev net_tap0,iface=dtap0 --";
      return nullptr;
    }
  } else if (!rte_eth_dev_is_valid_port(port_id)) {
    *error = "--port-id " + std::to_string(port_id) + ": no such DPDK port";
    return nullptr;
  }
  const std::uint16_t workers = std::max<std::uint16_t>(o.workers, 1);
  if (workers > 1 && !o.pcap.empty()) {
    *error =
        "--pcap takes one lcore (rte_pcapng writes from one thread); drop it or use -l with one "
        "lcore";
    return nullptr;
  }
  auto h = std::unique_ptr<Host>(new Host);
  dpdk::PortOptions po;
  po.checksum_offload = cfg.checksum_offload == ChecksumOffload::kAuto;
  po.queues = workers;
  h->port_ = dpdk::Port::open(port_id, po, error);
  if (!h->port_) return nullptr;
  if (workers > 1 && !h->port_->hardware_rss()) {
    h->soft_rss_ =
        dpdk::SoftRss::create("twtcp_srss" + std::to_string(port_id), workers, 4096, error);
    if (!h->soft_rss_) return nullptr;
  }
  neigh::NeighborConfig ncfg;
  ncfg.addr = o.addr;
  ncfg.prefix_len = o.prefix_len;
  ncfg.gateway = o.gateway;
  ncfg.mac = h->port_->mac();
  ncfg.max_entries = static_cast<std::size_t>(cfg.neigh_table_size);
  ncfg.max_pending_per_entry = static_cast<std::size_t>(cfg.neigh_unres_qlen);
  ncfg.max_pending = std::max<std::size_t>(256, ncfg.max_pending_per_entry * 4);
  Identity id;
  id.addr = o.addr;
  id.mac = h->port_->mac();
  for (std::uint16_t w = 0; w < workers; ++w) {
    h->netifs_.push_back(std::make_unique<NetIf>(*h->port_, ncfg, w, h->soft_rss_.get()));
    if (w == 0 && !o.pcap.empty() && !h->netifs_[0]->open_pcap(o.pcap, error)) return nullptr;
    h->stacks_.push_back(
        std::make_unique<Stack>(cfg, id, h->netifs_[w]->stack_sink(), h->clock_.now_us()));
    if (workers > 1) {
      const flow::RssSteering steering =
          h->port_->hardware_rss() ? flow::RssSteering(flow::kSymmetricRssKey, h->port_->reta(), w)
                                   : h->soft_rss_->steering(w);
      h->stacks_[w]->steer_connects(
          [steering](std::uint32_t la, std::uint16_t lp, std::uint32_t ra, std::uint16_t rp) {
            return steering.ours(flow::FlowKeyV4{la, ra, lp, rp});
          });
    }
  }
  return h;
}

void Host::run_workers(const std::function<void(std::uint16_t)>& run) {
  struct Launch {
    const std::function<void(std::uint16_t)>* run;
    std::uint16_t w;
  };
  std::vector<Launch> launches(workers());
  std::uint16_t w = 1;
  unsigned lcore = 0;
  RTE_LCORE_FOREACH_WORKER(lcore) {
    if (w >= launches.size()) break;
    launches[w] = {&run, w};
    rte_eal_remote_launch(
        [](void* arg) {
          const auto* l = static_cast<Launch*>(arg);
          (*l->run)(l->w);
          return 0;
        },
        &launches[w], lcore);
    ++w;
  }
  run(0);
  rte_eal_mp_wait_lcore();
}

std::vector<std::pair<std::string, std::uint64_t>> Host::counter_rows() const {
  std::vector<std::pair<std::string, std::uint64_t>> rows = netifs_[0]->counter_rows();
  for (std::size_t k = 1; k < netifs_.size(); ++k) {
    const auto more = netifs_[k]->counter_rows();
    for (std::size_t i = 0; i < rows.size() && i < more.size(); ++i)
      rows[i].second += more[i].second;
  }
  if (soft_rss_) {
    rows.emplace_back("soft_rss_dispatched", soft_rss_->stats().dispatched);
    rows.emplace_back("soft_rss_broadcast", soft_rss_->stats().broadcast);
    rows.emplace_back("soft_rss_dropped_full", soft_rss_->stats().dropped_full);
  }
  return rows;
}

std::vector<std::pair<std::string, std::uint64_t>> NetIf::counter_rows() const {
  const neigh::NeighborCounters& n = neigh_.counters();
  const dpdk::DatapathStats tx = sink_.stats();
  return {{"rx_frames", stats_.rx_frames},
          {"rx_multiseg_dropped", stats_.rx_multiseg_dropped},
          {"tx_frames", tx.tx_frames},
          {"tx_dropped", tx.tx_dropped_full + tx.tx_dropped_no_mbuf},
          {"tx_built_in_mbuf", tx.tx_built_in_mbuf},
          {"tx_csum_offloaded", tx.tx_csum_offloaded},
          {"rx_csum_verified", rx_csum_.rx_csum_verified},
          {"rx_csum_bad", rx_csum_.rx_csum_bad},
          {"arp_requests_in", n.arp_requests_in},
          {"arp_requests_out", n.arp_requests_out},
          {"arp_replies_in", n.arp_replies_in},
          {"arp_ignored", n.arp_ignored},
          {"icmp_echo_replies", n.icmp_echo_replies},
          {"neigh_evictions", n.evictions},
          {"neigh_tx_dropped_table_full", n.tx_dropped_table_full},
          {"neigh_tx_dropped_hold_full", n.tx_dropped_hold_full},
          {"neigh_tx_dropped_unresolved", n.tx_dropped_unresolved},
          {"neigh_tx_dropped_no_route", n.tx_dropped_no_route},
          {"pcap_frames", stats_.pcap_frames},
          {"pcap_dropped", stats_.pcap_dropped}};
}

}  // namespace twtcp::app
