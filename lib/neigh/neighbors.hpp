// lib/neigh/neighbors.hpp: the link-layer neighbourhood of one IPv4 address: answers ARP for
// it, resolves next hops (the peer on-link, else the gateway) with a bounded cache, holds
// frames while a resolution is in flight, retries and gives up like Linux's neighbour layer
// (mcast_solicit = 3 probes, retrans_time = 1 s), and answers ICMP echo so `ping` works.
//
// Sans-IO like the rest of the core: frames and a time in, frames out through a TxSink. A
// DPDK program puts it between the port and the Stack: RX frames go to input() first (ARP
// and ICMP echo stop there), the Stack's frames go through transmit(), which writes the
// resolved destination MAC. No allocation after construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "twtcp/stack.hpp"
#include "wire/bytes.hpp"

namespace twtcp::neigh {

struct NeighborConfig {
  std::uint32_t addr = 0;  // ours, host order
  std::uint8_t prefix_len = 24;
  std::uint32_t gateway = 0;  // 0: no gateway, off-link destinations are dropped
  wire::MacAddr mac{};
  std::size_t max_entries = 256;  // cache entries (resolved + in progress)
  std::size_t max_pending = 256;  // frames held across all unresolved entries
  std::size_t max_pending_per_entry = 16;
  std::uint64_t retry_us = 1'000'000;  // between ARP probes
  unsigned max_probes = 3;             // then the held frames are dropped
  // A resolved entry is re-probed (while still used) after this long without an ARP from
  // its owner; frames keep flowing to the old MAC meanwhile.
  std::uint64_t reconfirm_us = 60'000'000;
};

struct NeighborCounters {
  std::uint64_t arp_requests_in = 0;  // for our address
  std::uint64_t arp_replies_out = 0;
  std::uint64_t arp_requests_out = 0;  // probes we sent
  std::uint64_t arp_replies_in = 0;
  std::uint64_t arp_ignored = 0;            // malformed, or not about us
  std::uint64_t resolved = 0;               // entries that went from in-progress to known
  std::uint64_t tx_sent = 0;                // frames sent with a resolved MAC (held ones included)
  std::uint64_t tx_held = 0;                // frames that had to wait for a resolution
  std::uint64_t tx_dropped_unresolved = 0;  // held frames dropped after max_probes
  std::uint64_t tx_dropped_hold_full = 0;   // no room to hold another frame
  std::uint64_t tx_dropped_no_route = 0;    // off-link and no gateway
  std::uint64_t tx_dropped_malformed = 0;   // not an IPv4 frame
  std::uint64_t tx_dropped_table_full = 0;  // no entry could be made (all in progress)
  std::uint64_t icmp_echo_replies = 0;
  std::uint64_t evictions = 0;
};

class Neighbors {
 public:
  // `out` receives every frame this layer sends (ARP, ICMP, the Stack's resolved frames).
  Neighbors(const NeighborConfig& cfg, TxSink& out);
  ~Neighbors();
  Neighbors(const Neighbors&) = delete;
  Neighbors& operator=(const Neighbors&) = delete;

  // An RX frame. True if it was ARP or an ICMP echo request for us (handled here, do not
  // give it to the Stack); false for everything else.
  bool input(std::span<const std::uint8_t> frame, std::uint64_t now_us);
  // A frame to send (Ethernet + IPv4; its destination MAC is ignored and replaced).
  void transmit(std::span<const std::uint8_t> frame, std::uint64_t now_us);
  // Probe retries and give-ups due by now_us.
  void advance(std::uint64_t now_us);
  // When advance() next has work, UINT64_MAX if nothing is in progress.
  [[nodiscard]] std::uint64_t next_wakeup() const noexcept;

  // The MAC known for `ip`, if resolved.
  [[nodiscard]] std::optional<wire::MacAddr> lookup(std::uint32_t ip) const noexcept;
  // The next hop for `dst`: itself on-link, the gateway otherwise, 0 if unroutable.
  [[nodiscard]] std::uint32_t next_hop(std::uint32_t dst) const noexcept;
  [[nodiscard]] std::size_t size() const noexcept { return used_; }
  [[nodiscard]] const NeighborCounters& counters() const noexcept { return ctr_; }

  // A TxSink for a Stack: transmit() at the time of the last input/transmit/advance call.
  // It passes `out`'s checksum offloads through (lib/neigh never touches a TCP checksum) and
  // lends `out`'s buffers: a Stack frame built in one gets its MACs written in place and
  // goes on without a copy; one that must wait for ARP is copied into the hold queue and
  // its buffer given back.
  [[nodiscard]] TxSink& stack_sink() noexcept { return stack_sink_; }

 private:
  struct Entry;
  struct StackSink final : TxSink {
    Neighbors* self = nullptr;
    void transmit(std::span<const std::uint8_t> f) override { self->transmit(f, self->now_); }
    [[nodiscard]] ChecksumOffloads offloads() const noexcept override {
      return self->out_.offloads();
    }
    std::span<std::uint8_t> tx_begin(std::size_t max_len) override;
    void tx_commit(std::size_t len) override;
  };
  static constexpr std::uint32_t kNone = UINT32_MAX;
  enum class Route : std::uint8_t { kSend, kHeld, kDropped };
  // Where a Stack frame goes: kSend to (*entry)->mac; kHeld: copied into the entry's hold
  // queue; kDropped: counted. *probe: an ARP probe for *entry is due, sent by the caller.
  Route route(std::span<const std::uint8_t> frame, std::uint64_t now_us, Entry** entry,
              bool* probe);

  Entry* find(std::uint32_t ip) const noexcept;
  Entry* insert(std::uint32_t ip, std::uint64_t now_us);
  void erase(Entry* e) noexcept;
  void learn(std::uint32_t ip, const wire::MacAddr& mac, std::uint64_t now_us, bool create);
  void send_probe(Entry& e, std::uint64_t now_us);
  void send_resolved(std::span<const std::uint8_t> frame, const wire::MacAddr& dst);
  void flush_pending(Entry& e);
  void drop_pending(Entry& e);
  bool answer_echo(std::span<const std::uint8_t> frame);
  std::size_t slot_of(std::uint32_t ip) const noexcept;

  NeighborConfig cfg_;
  TxSink& out_;
  StackSink stack_sink_;
  std::uint32_t netmask_;
  std::uint64_t now_ = 0;
  NeighborCounters ctr_;
  // Open addressing (linear probing, backward-shift deletion) over `index_`, which holds
  // entry numbers; entries live in `entries_`, free ones on a stack.
  std::vector<Entry> entries_;
  std::vector<std::uint32_t> index_;
  std::vector<std::uint32_t> free_entries_;
  std::size_t used_ = 0;
  // Held frames: fixed buffers, linked per entry through `pending_next_`.
  static constexpr std::size_t kFrameCap = 2048;
  std::unique_ptr<std::uint8_t[]> pending_buf_;
  std::vector<std::uint16_t> pending_len_;
  std::vector<std::uint32_t> pending_next_;
  std::vector<std::uint32_t> free_pending_;
  std::unique_ptr<std::uint8_t[]> scratch_;
  std::span<std::uint8_t> lent_;  // `out`'s buffer between the Stack's tx_begin and tx_commit
};

}  // namespace twtcp::neigh
