// lib/flow/peer.hpp: the per-host peer table for per-host PAWS (tcp_tw_recycle, SPEC section 5):
// remote host -> the last timestamp seen from it and when.
//
// Bounded: at capacity, creating an entry evicts the least recently used one (Linux's
// tcp_metrics also drops the oldest entry of a long chain). All memory is allocated at
// construction; nothing allocates afterwards.
//
// Layout: a node array (entry + intrusive LRU links as 32-bit indices) and an open-addressing
// index of 32-bit node numbers, at most half full, with linear probing and backward-shift
// deletion (no tombstones, so lookups stay short however long the churn).
//
// Threading: NOT thread-safe. Use one per lcore, or only from the stack's single writer; the
// recycle check runs on the lcore that handles the SYN, which is where its host's entries are
// written when that lcore owns the flow.
//
// What a stale entry means (PAWS_MSL age, the 1-hour reset) is policy: callers read
// ts_stamp_s / updated_us and decide (lib/timewait). This table only stores and evicts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

namespace twtcp::flow {

// The peer key: the remote IPv4 address (host order). The 3.15-4.11 (saddr, daddr) keying, or
// IPv6, is another key type with == and hash(seed).
struct PeerAddrV4 {
  std::uint32_t addr = 0;

  friend bool operator==(const PeerAddrV4&, const PeerAddrV4&) = default;
  [[nodiscard]] std::uint64_t hash(std::uint64_t seed = 0) const noexcept {
    std::uint64_t h = (seed ^ 0x9e3779b97f4a7c15ULL) + addr;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
  }
};

struct PeerTimestamps {
  std::uint32_t ts_recent = 0;   // the last TSval seen from the host (tcpm_ts)
  std::uint32_t ts_stamp_s = 0;  // when it was seen, in seconds (tcpm_ts_stamp); 0 = never
  std::uint64_t updated_us = 0;  // when the entry was created or last written (tcpm_stamp)
};

template <class Addr = PeerAddrV4>
class PeerTable {
 public:
  struct Peer {
    Addr addr{};
    PeerTimestamps ts{};
    std::uint64_t last_used_us = 0;  // LRU recency: the last find()/get_or_create()
  };

  struct Upsert {
    Peer* peer = nullptr;
    bool created = false;  // a new zeroed entry (ts_stamp_s == 0)
    bool evicted = false;  // creating it pushed out the least recently used host
  };

  // Throws std::invalid_argument unless 0 < capacity < 2^30 (setup-time only).
  explicit PeerTable(std::size_t capacity, std::uint64_t seed = 0) : seed_(seed) {
    if (capacity == 0 || capacity >= (std::size_t{1} << 30)) {
      throw std::invalid_argument("flow::PeerTable: capacity must be in [1, 2^30)");
    }
    nodes_.resize(capacity);
    std::size_t n = 4;
    while (n < capacity * 2) n *= 2;
    index_.assign(n, kNil);
    mask_ = n - 1;
    for (std::size_t i = 0; i < capacity; ++i) {
      nodes_[i].next = (i + 1 < capacity) ? static_cast<std::uint32_t>(i + 1) : kNil;
    }
    free_ = 0;
  }

  // The host's entry, marked most recently used; nullptr if absent.
  Peer* find(const Addr& a, std::uint64_t now_us) noexcept {
    const std::uint32_t n = lookup(a);
    if (n == kNil) return nullptr;
    touch(n, now_us);
    return &nodes_[n].peer;
  }

  // The host's entry without changing LRU order.
  [[nodiscard]] const Peer* peek(const Addr& a) const noexcept {
    const std::uint32_t n = lookup(a);
    return n == kNil ? nullptr : &nodes_[n].peer;
  }

  // The host's entry, created (zeroed, updated_us = now) if absent, evicting the least
  // recently used entry when full. Never fails.
  Upsert get_or_create(const Addr& a, std::uint64_t now_us) noexcept {
    if (Peer* p = find(a, now_us)) return Upsert{p, false, false};
    bool evicted = false;
    if (free_ == kNil) {
      erase_node(lru_);
      ++evictions_;
      evicted = true;
    }
    const std::uint32_t n = free_;
    free_ = nodes_[n].next;
    nodes_[n].peer = Peer{a, PeerTimestamps{0, 0, now_us}, now_us};
    link_front(n);
    index_insert(n);
    ++size_;
    return Upsert{&nodes_[n].peer, true, evicted};
  }

  bool erase(const Addr& a) noexcept {
    const std::uint32_t n = lookup(a);
    if (n == kNil) return false;
    erase_node(n);
    return true;
  }

  // The least recently used entry (the next eviction victim), for aging sweeps; nullptr if empty.
  [[nodiscard]] const Peer* oldest() const noexcept {
    return lru_ == kNil ? nullptr : &nodes_[lru_].peer;
  }

  // Visits entries from most to least recently used.
  template <class Fn>
  void for_each_mru(Fn&& fn) const {
    for (std::uint32_t n = mru_; n != kNil; n = nodes_[n].next) fn(nodes_[n].peer);
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return nodes_.size(); }
  [[nodiscard]] std::uint64_t evictions() const noexcept { return evictions_; }

 private:
  static constexpr std::uint32_t kNil = std::numeric_limits<std::uint32_t>::max();

  struct Node {
    Peer peer;
    std::uint32_t prev = kNil;  // toward the MRU end
    std::uint32_t next = kNil;  // toward the LRU end; the free list when unused
  };

  std::size_t home(const Addr& a) const noexcept { return a.hash(seed_) & mask_; }

  std::uint32_t lookup(const Addr& a) const noexcept {
    for (std::size_t i = home(a);; i = (i + 1) & mask_) {
      const std::uint32_t n = index_[i];
      if (n == kNil) return kNil;
      if (nodes_[n].peer.addr == a) return n;
    }
  }

  void index_insert(std::uint32_t n) noexcept {
    std::size_t i = home(nodes_[n].peer.addr);
    while (index_[i] != kNil) i = (i + 1) & mask_;
    index_[i] = n;
  }

  // Backward-shift deletion: later entries of the cluster move into the hole when their home
  // is not between the hole and their position.
  void index_erase(std::uint32_t n) noexcept {
    std::size_t i = home(nodes_[n].peer.addr);
    while (index_[i] != n) i = (i + 1) & mask_;
    std::size_t hole = i;
    for (std::size_t j = (hole + 1) & mask_; index_[j] != kNil; j = (j + 1) & mask_) {
      const std::size_t h = home(nodes_[index_[j]].peer.addr);
      // Movable iff h is cyclically outside (hole, j].
      const bool stays = (hole < j) ? (h > hole && h <= j) : (h > hole || h <= j);
      if (!stays) {
        index_[hole] = index_[j];
        hole = j;
      }
    }
    index_[hole] = kNil;
  }

  void unlink(std::uint32_t n) noexcept {
    Node& x = nodes_[n];
    if (x.prev != kNil)
      nodes_[x.prev].next = x.next;
    else
      mru_ = x.next;
    if (x.next != kNil)
      nodes_[x.next].prev = x.prev;
    else
      lru_ = x.prev;
    x.prev = x.next = kNil;
  }

  void link_front(std::uint32_t n) noexcept {
    Node& x = nodes_[n];
    x.prev = kNil;
    x.next = mru_;
    if (mru_ != kNil)
      nodes_[mru_].prev = n;
    else
      lru_ = n;
    mru_ = n;
  }

  void touch(std::uint32_t n, std::uint64_t now_us) noexcept {
    nodes_[n].peer.last_used_us = now_us;
    if (mru_ == n) return;
    unlink(n);
    link_front(n);
  }

  void erase_node(std::uint32_t n) noexcept {
    index_erase(n);
    unlink(n);
    nodes_[n].next = free_;
    free_ = n;
    --size_;
  }

  std::uint64_t seed_;
  std::vector<Node> nodes_;
  std::vector<std::uint32_t> index_;
  std::size_t mask_ = 0;
  std::uint32_t mru_ = kNil;
  std::uint32_t lru_ = kNil;
  std::uint32_t free_ = kNil;
  std::size_t size_ = 0;
  std::uint64_t evictions_ = 0;
};

}  // namespace twtcp::flow
