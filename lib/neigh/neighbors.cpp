// lib/neigh/neighbors.cpp
#include "neigh/neighbors.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <stdexcept>

#include "wire/arp.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"

namespace twtcp::neigh {

namespace {
constexpr std::uint8_t kIpProtoIcmp = 1;
constexpr std::uint8_t kIcmpEchoReply = 0;
constexpr std::uint8_t kIcmpEchoRequest = 8;
constexpr std::uint64_t kNever = UINT64_MAX;
constexpr std::size_t kIpDstOffset = wire::kEthernetHeaderLen + 16;
}  // namespace

struct Neighbors::Entry {
  std::uint32_t ip = 0;
  wire::MacAddr mac{};
  bool resolved = false;
  std::uint8_t probes = 0;  // sent since the last confirmation
  std::uint64_t next_probe_us = kNever;
  std::uint64_t confirmed_us = 0;
  std::uint64_t last_used_us = 0;
  std::uint32_t pend_head = kNone, pend_tail = kNone, pend_count = 0;
};

Neighbors::Neighbors(const NeighborConfig& cfg, TxSink& out) : cfg_(cfg), out_(out) {
  if (cfg.max_entries == 0 || cfg.max_entries > (1u << 20) || cfg.prefix_len > 32 ||
      cfg.max_pending > (1u << 20) || cfg.max_probes == 0 || cfg.max_probes > 255) {
    throw std::invalid_argument("Neighbors: bad table sizes or prefix length");
  }
  stack_sink_.self = this;
  netmask_ = cfg.prefix_len == 0 ? 0 : ~std::uint32_t{0} << (32 - cfg.prefix_len);
  entries_.resize(cfg.max_entries);
  index_.assign(std::bit_ceil(cfg.max_entries * 2), kNone);
  free_entries_.reserve(cfg.max_entries);
  for (std::size_t i = cfg.max_entries; i-- > 0;) {
    free_entries_.push_back(static_cast<std::uint32_t>(i));
  }
  pending_buf_ =
      std::make_unique<std::uint8_t[]>(std::max<std::size_t>(cfg.max_pending, 1) * kFrameCap);
  pending_len_.assign(cfg.max_pending, 0);
  pending_next_.assign(cfg.max_pending, kNone);
  free_pending_.reserve(cfg.max_pending);
  for (std::size_t i = cfg.max_pending; i-- > 0;) {
    free_pending_.push_back(static_cast<std::uint32_t>(i));
  }
  scratch_ = std::make_unique<std::uint8_t[]>(kFrameCap);
}

Neighbors::~Neighbors() = default;

std::uint32_t Neighbors::next_hop(std::uint32_t dst) const noexcept {
  if (dst == 0 || dst == 0xffffffffu) return 0;
  if ((dst & netmask_) == (cfg_.addr & netmask_)) return dst;
  return cfg_.gateway;
}

std::size_t Neighbors::slot_of(std::uint32_t ip) const noexcept {
  return static_cast<std::size_t>((ip * 0x9E3779B1u) >> 7) & (index_.size() - 1);
}

Neighbors::Entry* Neighbors::find(std::uint32_t ip) const noexcept {
  for (std::size_t i = slot_of(ip);; i = (i + 1) & (index_.size() - 1)) {
    const std::uint32_t n = index_[i];
    if (n == kNone) return nullptr;
    if (entries_[n].ip == ip) return const_cast<Entry*>(&entries_[n]);
  }
}

Neighbors::Entry* Neighbors::insert(std::uint32_t ip, std::uint64_t now_us) {
  if (free_entries_.empty()) {
    // Evict the resolved entry unused for longest; in-progress ones hold frames and stay.
    Entry* victim = nullptr;
    for (Entry& e : entries_) {
      if (e.resolved && e.pend_count == 0 &&
          (victim == nullptr || e.last_used_us < victim->last_used_us)) {
        victim = &e;
      }
    }
    if (victim == nullptr) return nullptr;
    erase(victim);
    ++ctr_.evictions;
  }
  const std::uint32_t n = free_entries_.back();
  free_entries_.pop_back();
  entries_[n] = Entry{};
  entries_[n].ip = ip;
  entries_[n].last_used_us = now_us;
  std::size_t i = slot_of(ip);
  while (index_[i] != kNone) i = (i + 1) & (index_.size() - 1);
  index_[i] = n;
  ++used_;
  return &entries_[n];
}

void Neighbors::erase(Entry* e) noexcept {
  const auto n = static_cast<std::uint32_t>(e - entries_.data());
  const std::size_t mask = index_.size() - 1;
  std::size_t i = slot_of(e->ip);
  while (index_[i] != n) i = (i + 1) & mask;
  // Backward-shift deletion: pull later members of the probe run into the hole.
  for (std::size_t j = (i + 1) & mask; index_[j] != kNone; j = (j + 1) & mask) {
    const std::size_t home = slot_of(entries_[index_[j]].ip);
    const bool movable = (i <= j) ? (home <= i || home > j) : (home <= i && home > j);
    if (movable) {
      index_[i] = index_[j];
      i = j;
    }
  }
  index_[i] = kNone;
  drop_pending(*e);
  *e = Entry{};
  free_entries_.push_back(n);
  --used_;
}

std::optional<wire::MacAddr> Neighbors::lookup(std::uint32_t ip) const noexcept {
  const Entry* e = find(ip);
  if (e == nullptr || !e->resolved) return std::nullopt;
  return e->mac;
}

void Neighbors::learn(std::uint32_t ip, const wire::MacAddr& mac, std::uint64_t now_us,
                      bool create) {
  if (ip == 0 || ip == cfg_.addr) return;
  Entry* e = find(ip);
  if (e == nullptr) {
    if (!create) return;
    e = insert(ip, now_us);
    if (e == nullptr) return;
  }
  if (!e->resolved) ++ctr_.resolved;
  e->mac = mac;
  e->resolved = true;
  e->confirmed_us = now_us;
  e->probes = 0;
  e->next_probe_us = kNever;
  flush_pending(*e);
}

void Neighbors::send_probe(Entry& e, std::uint64_t now_us) {
  const std::size_t n =
      wire::build_arp_request({scratch_.get(), kFrameCap}, cfg_.mac, cfg_.addr, e.ip);
  out_.transmit({scratch_.get(), n});
  ++ctr_.arp_requests_out;
  ++e.probes;
  e.next_probe_us = now_us + cfg_.retry_us;
}

void Neighbors::send_resolved(std::span<const std::uint8_t> frame, const wire::MacAddr& dst) {
  const std::size_t n = std::min(frame.size(), kFrameCap);
  std::memcpy(scratch_.get(), frame.data(), n);
  wire::store_mac(scratch_.get(), dst);
  wire::store_mac(scratch_.get() + 6, cfg_.mac);
  out_.transmit({scratch_.get(), n});
  ++ctr_.tx_sent;
}

void Neighbors::flush_pending(Entry& e) {
  for (std::uint32_t p = e.pend_head; p != kNone;) {
    const std::uint32_t next = pending_next_[p];
    send_resolved({pending_buf_.get() + std::size_t{p} * kFrameCap, pending_len_[p]}, e.mac);
    pending_next_[p] = kNone;
    free_pending_.push_back(p);
    p = next;
  }
  e.pend_head = e.pend_tail = kNone;
  e.pend_count = 0;
}

void Neighbors::drop_pending(Entry& e) {
  for (std::uint32_t p = e.pend_head; p != kNone;) {
    const std::uint32_t next = pending_next_[p];
    pending_next_[p] = kNone;
    free_pending_.push_back(p);
    ++ctr_.tx_dropped_unresolved;
    p = next;
  }
  e.pend_head = e.pend_tail = kNone;
  e.pend_count = 0;
}

Neighbors::Route Neighbors::route(std::span<const std::uint8_t> frame, std::uint64_t now_us,
                                  Entry** entry, bool* probe) {
  *probe = false;
  if (frame.size() < kIpDstOffset + 4 || frame.size() > kFrameCap ||
      wire::load_be16(frame.data() + 12) != wire::kEtherTypeIpv4) {
    ++ctr_.tx_dropped_malformed;
    return Route::kDropped;
  }
  const std::uint32_t hop = next_hop(wire::load_be32(frame.data() + kIpDstOffset));
  if (hop == 0) {
    ++ctr_.tx_dropped_no_route;
    return Route::kDropped;
  }
  Entry* e = find(hop);
  *entry = e;
  if (e != nullptr && e->resolved) {
    e->last_used_us = now_us;
    // Still sending to the old MAC while it is reconfirmed.
    *probe = e->next_probe_us == kNever && now_us - e->confirmed_us >= cfg_.reconfirm_us;
    return Route::kSend;
  }
  if (e == nullptr) {
    e = insert(hop, now_us);
    if (e == nullptr) {
      ++ctr_.tx_dropped_table_full;
      return Route::kDropped;
    }
    *entry = e;
    *probe = true;
  }
  if (free_pending_.empty() || e->pend_count >= cfg_.max_pending_per_entry) {
    ++ctr_.tx_dropped_hold_full;
    return Route::kDropped;
  }
  const std::uint32_t p = free_pending_.back();
  free_pending_.pop_back();
  std::memcpy(pending_buf_.get() + std::size_t{p} * kFrameCap, frame.data(), frame.size());
  pending_len_[p] = static_cast<std::uint16_t>(frame.size());
  pending_next_[p] = kNone;
  if (e->pend_tail == kNone) {
    e->pend_head = p;
  } else {
    pending_next_[e->pend_tail] = p;
  }
  e->pend_tail = p;
  ++e->pend_count;
  ++ctr_.tx_held;
  return Route::kHeld;
}

void Neighbors::transmit(std::span<const std::uint8_t> frame, std::uint64_t now_us) {
  now_ = now_us;
  Entry* e = nullptr;
  bool probe = false;
  const Route r = route(frame, now_us, &e, &probe);
  if (probe) send_probe(*e, now_us);
  if (r == Route::kSend) send_resolved(frame, e->mac);
}

std::span<std::uint8_t> Neighbors::StackSink::tx_begin(std::size_t max_len) {
  // Larger frames take transmit(), which counts them as malformed.
  if (max_len > kFrameCap) return {};
  self->lent_ = self->out_.tx_begin(max_len);
  return self->lent_;
}

void Neighbors::StackSink::tx_commit(std::size_t len) {
  Neighbors& n = *self;
  const std::span<std::uint8_t> buf = n.lent_.first(std::min(len, n.lent_.size()));
  n.lent_ = {};
  if (buf.empty()) {
    n.out_.tx_commit(0);
    return;
  }
  Entry* e = nullptr;
  bool probe = false;
  if (n.route(buf, n.now_, &e, &probe) == Route::kSend) {
    wire::store_mac(buf.data(), e->mac);
    wire::store_mac(buf.data() + 6, n.cfg_.mac);
    n.out_.tx_commit(buf.size());
    ++n.ctr_.tx_sent;
  } else {
    n.out_.tx_commit(0);  // held frames were copied
  }
  // After the commit: nothing may go through `out` while its buffer is lent.
  if (probe) n.send_probe(*e, n.now_);
}

void Neighbors::advance(std::uint64_t now_us) {
  now_ = now_us;
  if (now_us < next_wakeup()) return;
  for (Entry& e : entries_) {
    if (e.next_probe_us > now_us) continue;
    if (e.probes >= cfg_.max_probes) {
      erase(&e);  // FAILED: held frames are dropped, the next frame starts over
    } else {
      send_probe(e, now_us);
    }
  }
}

std::uint64_t Neighbors::next_wakeup() const noexcept {
  std::uint64_t w = kNever;
  if (used_ == 0) return w;
  for (const Entry& e : entries_) w = std::min(w, e.next_probe_us);
  return w;
}

bool Neighbors::answer_echo(std::span<const std::uint8_t> frame) {
  const auto eth = wire::parse_ethernet(frame);
  const auto ip = wire::parse_ipv4(eth->payload());
  if (!ip || ip->protocol() != kIpProtoIcmp || ip->dst() != cfg_.addr) return false;
  const auto icmp = ip->payload();
  if (icmp.size() < 8 || icmp[0] != kIcmpEchoRequest) return false;
  // An echo request for us: ours to answer (or to drop, if it is broken), never the Stack's.
  if (icmp[1] != 0 || wire::internet_checksum(icmp) != 0) return true;
  const std::size_t total = wire::kIpv4MinHeaderLen + icmp.size();
  if (wire::kEthernetHeaderLen + total > kFrameCap) return true;
  std::uint8_t* out = scratch_.get();
  wire::write_ethernet({out, kFrameCap}, eth->src(), cfg_.mac, wire::kEtherTypeIpv4);
  wire::Ipv4Fields f;
  f.src = cfg_.addr;
  f.dst = ip->src();
  f.protocol = kIpProtoIcmp;
  f.tos = ip->tos();
  f.id = ip->id();
  f.dont_fragment = false;
  wire::write_ipv4({out + wire::kEthernetHeaderLen, kFrameCap - wire::kEthernetHeaderLen}, f,
                   static_cast<std::uint16_t>(total));
  std::uint8_t* reply = out + wire::kEthernetHeaderLen + wire::kIpv4MinHeaderLen;
  std::memcpy(reply, icmp.data(), icmp.size());
  reply[0] = kIcmpEchoReply;
  reply[2] = reply[3] = 0;
  wire::store_be16(reply + 2, wire::internet_checksum({reply, icmp.size()}));
  out_.transmit({out, wire::kEthernetHeaderLen + total});
  ++ctr_.icmp_echo_replies;
  return true;
}

bool Neighbors::input(std::span<const std::uint8_t> frame, std::uint64_t now_us) {
  now_ = now_us;
  const auto eth = wire::parse_ethernet(frame);
  if (!eth) return false;
  if (eth->ethertype() == wire::kEtherTypeIpv4) return answer_echo(frame);
  if (eth->ethertype() != wire::kEtherTypeArp) return false;
  const auto arp = wire::parse_arp(eth->payload());
  if (!arp) {
    ++ctr_.arp_ignored;
    return true;
  }
  const bool for_us = arp->target_ip() == cfg_.addr;
  if (arp->op() == wire::ArpOp::kRequest && for_us) {
    ++ctr_.arp_requests_in;
    learn(arp->sender_ip(), arp->sender_mac(), now_us, /*create=*/true);
    const std::size_t n = wire::build_arp_reply({scratch_.get(), kFrameCap}, cfg_.mac, *arp);
    out_.transmit({scratch_.get(), n});
    ++ctr_.arp_replies_out;
  } else if (arp->op() == wire::ArpOp::kReply && for_us) {
    ++ctr_.arp_replies_in;
    // Only entries we asked for (or already had) are filled: no cache poisoning by
    // unsolicited replies.
    learn(arp->sender_ip(), arp->sender_mac(), now_us, /*create=*/false);
  } else {
    // Someone else's ARP (or a gratuitous one) refreshes an entry we already hold.
    ++ctr_.arp_ignored;
    learn(arp->sender_ip(), arp->sender_mac(), now_us, /*create=*/false);
  }
  return true;
}

}  // namespace twtcp::neigh
