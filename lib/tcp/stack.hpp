// lib/tcp/stack.hpp: the entry types the Stack keeps in its flow table (internal; the
// public API is include/twtcp/stack.hpp). Exposed so tests can measure the TIME_WAIT entry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "flow/key.hpp"
#include "flow/table.hpp"
#include "tcp/connection.hpp"
#include "timer/wheel.hpp"
#include "timewait/types.hpp"
#include "twtcp/stack.hpp"

namespace twtcp::tcp {

using FlowKey = flow::FlowKeyV4;
using FlowHeader = flow::FlowEntryHeader<FlowKey>;

// A live connection: pooled (the pool grows up to twtcp.max_connections, slots are reused),
// the Connection itself is rebuilt per open (its two byte rings are its only allocation).
struct ConnEntry : FlowHeader {
  std::optional<Connection> conn;
  // The send and receive rings' storage, allocated when the slot is first used and kept for
  // every later connection in it (a fresh 144 KiB per connection made glibc mmap, fault in
  // and zero-fill pages on every open: 70 % of a CPS run).
  std::unique_ptr<std::uint8_t[]> buffers;
  timer::Timer timer;  // bound to conn->next_deadline()
  // Shared with the listener (or owned alone, for connect()): accepting a SYN copies a
  // pointer, not six std::functions that may allocate.
  std::shared_ptr<const Callbacks> cb;
  std::uint32_t slot = 0;
  std::uint32_t gen = 1;
  bool live = false;
  bool passive = false;
  // A passive open still in SYN-RECEIVED, counted in its listener's SYN backlog.
  bool in_syn_queue = false;
  // Callbacks of this entry running right now: a slot freed meanwhile (the app closed the
  // connection from its own callback) goes back to the pool only when they have returned,
  // so the std::function being executed is not destroyed under it.
  std::uint32_t busy = 0;
  bool release_pending = false;
};

// A compact TIME_WAIT entry, 48 bytes (+ 13.06 of flow table per entry of capacity = 61):
//   0  key (12)  12 kind  13 bits: rcv_wscale (4) | substate (1) | is_loopback (1) |
//   expiry delta bits 16-17 (2)  14 expiry delta bits 0-15
//   16 rcv_nxt  20 snd_nxt  24 rcv_wnd  28 ts_recent  32 ts_recent_stamp_s  36 entry_stamp_ms
//   40 last_oow_ack_ms  44 link: next node (26 bits) | expiry queue (6 bits)
// Of timewait::TwEntryState, ts_offset is not stored (the stack derives it from the 4-tuple:
// ts_offset_for() is the only source of a connection's offset) and recycle_timeout_ms is the
// expiry queue's (TwPool keys queues by it). bits/delta_lo live in FlowHeader's tail padding.
struct TwEntry : FlowHeader {
  std::uint8_t bits = 0;
  std::uint16_t delta_lo = 0;
  std::uint32_t rcv_nxt = 0;
  std::uint32_t snd_nxt = 0;
  std::uint32_t rcv_wnd = 0;
  std::uint32_t ts_recent = 0;
  std::uint32_t ts_recent_stamp_s = 0;
  std::uint32_t entry_stamp_ms = 0;
  std::uint32_t last_oow_ack_ms = 0;
  std::uint32_t link = 0;

  static constexpr unsigned kIndexBits = 26;
  static constexpr std::uint32_t kIndexMask = (1u << kIndexBits) - 1;
  static constexpr std::uint32_t kDeltaMax = (1u << 18) - 1;

  [[nodiscard]] std::uint32_t next() const noexcept { return link & kIndexMask; }
  [[nodiscard]] std::uint32_t queue() const noexcept { return link >> kIndexBits; }
  void set_link(std::uint32_t next, std::uint32_t queue) noexcept {
    link = (queue << kIndexBits) | (next & kIndexMask);
  }
  [[nodiscard]] std::uint32_t delta() const noexcept {
    return std::uint32_t{delta_lo} | (static_cast<std::uint32_t>(bits >> 6) << 16);
  }
  void set_delta(std::uint32_t d) noexcept {
    delta_lo = static_cast<std::uint16_t>(d);
    bits = static_cast<std::uint8_t>((bits & 0x3f) | ((d >> 16) & 3u) << 6);
  }
  [[nodiscard]] std::uint8_t rcv_wscale() const noexcept { return bits & 0x0f; }
  [[nodiscard]] timewait::TwSubstate substate() const noexcept {
    return static_cast<timewait::TwSubstate>((bits >> 4) & 1u);
  }
  [[nodiscard]] bool is_loopback() const noexcept { return (bits >> 5) & 1u; }

  // The engine's view (ts_offset and recycle_timeout_ms come from the caller), and back.
  [[nodiscard]] timewait::TwEntryState state(std::uint32_t ts_offset,
                                             std::uint32_t recycle_timeout_ms) const noexcept {
    timewait::TwEntryState s;
    s.rcv_nxt = rcv_nxt;
    s.snd_nxt = snd_nxt;
    s.rcv_wnd = rcv_wnd;
    s.ts_recent = ts_recent;
    s.ts_recent_stamp_s = ts_recent_stamp_s;
    s.ts_offset = ts_offset;
    s.entry_stamp_ms = entry_stamp_ms;
    s.last_oow_ack_ms = last_oow_ack_ms;
    s.recycle_timeout_ms = recycle_timeout_ms;
    s.rcv_wscale = rcv_wscale();
    s.substate = substate();
    s.is_loopback = is_loopback();
    return s;
  }
  // Stores every field of s but ts_offset and recycle_timeout_ms. rcv_wscale is <= 14
  // (timewait_enter() rejects more).
  void store(const timewait::TwEntryState& s) noexcept {
    rcv_nxt = s.rcv_nxt;
    snd_nxt = s.snd_nxt;
    rcv_wnd = s.rcv_wnd;
    ts_recent = s.ts_recent;
    ts_recent_stamp_s = s.ts_recent_stamp_s;
    entry_stamp_ms = s.entry_stamp_ms;
    last_oow_ack_ms = s.last_oow_ack_ms;
    bits = static_cast<std::uint8_t>((bits & 0xc0) | (s.rcv_wscale & 0x0f) |
                                     (s.substate == timewait::TwSubstate::kFinWait2 ? 0x10 : 0) |
                                     (s.is_loopback ? 0x20 : 0));
  }
};
static_assert(sizeof(TwEntry) == 48, "TIME_WAIT entry: 48 bytes + the flow table's 13.06 <= 64");

// The TIME_WAIT entries and their expiry. Nodes live in one array (capacity entries plus one
// spare per queue) with an intrusive free list, so the pool costs nothing per entry beyond the
// entry. Expiry is kept in FIFO queues, one per distinct (lifetime, recycle timeout): entries
// armed with the same lifetime expire in the order they were armed, so a queue's head is its
// earliest deadline and advance() only looks at heads. A TIME_WAIT stack arms very few
// lifetimes (timewait_len, the FIN_WAIT2 timeout, 3.5*RTO under tw_recycle), and a queue is
// released when it empties.
//
// Deadlines follow lib/timer's rule: an entry armed at t for L fires during the first
// advance(now) with now >= ceil((t + L) / tick) * tick. A queue keeps its head's and tail's
// tick; each entry holds the ticks from its predecessor in 18 bits: steps of one tick for
// lifetimes up to 262140 ticks (262 s at 1 ms), longer ones round their deadline up to steps of
// about L / 262141 ticks. A delta can only overflow when the entries before it are overdue
// (advance() not called for 262 s - L); add() and remove() then fire those first: late, never
// early.
//
// Lists are singly linked and end in a spare node (the queue's "dummy"), so every entry has a
// successor. Removing an entry from the middle moves its successor into its node (O(1)) and
// tells the caller, who repoints the flow table; removing the last entry makes its node the
// new dummy. Addresses of entries therefore change: hold none across a pool call.
//
// More than kQueues distinct lifetimes alive at once: an entry whose lifetime has no queue
// joins the queue of the shortest longer lifetime (queue 1 always holds the longest lifetime
// the stack can arm), i.e. expires late, never early.
//
// Hooks: moved(TwEntry& from, TwEntry& to) after `from` was copied into `to` (repoint the
// table; `from` is freed afterwards); expired(TwEntry& e, std::uint64_t lifetime_us) for an
// entry that is due (unpublish it; the pool frees it afterwards).
class TwPool {
 public:
  static constexpr std::uint32_t kQueues = 64;
  static constexpr std::uint32_t kNil = TwEntry::kIndexMask;
  static constexpr std::size_t kMaxCapacity = kNil - kQueues;

  // capacity is clamped to kMaxCapacity. Queue 0 is bound to timewait_len_us, queue 1 to
  // longest_us (>= every lifetime the caller will arm).
  TwPool(std::size_t capacity, std::uint64_t tick_us, std::uint64_t timewait_len_us,
         std::uint64_t longest_us);

  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool full() const noexcept { return size_ == capacity_; }
  // Bytes of the node array (entries, the spare nodes, and nothing else).
  [[nodiscard]] std::size_t memory_bytes() const noexcept { return nodes_total_ * sizeof(TwEntry); }
  [[nodiscard]] bool owns(const void* p) const noexcept {
    const auto* e = static_cast<const TwEntry*>(p);
    return e >= nodes_.get() && e < nodes_.get() + nodes_total_;
  }
  // What the entry was last armed with.
  [[nodiscard]] std::uint64_t lifetime_us(const TwEntry& e) const noexcept {
    return q_[e.queue()].lifetime_us;
  }
  [[nodiscard]] std::uint32_t recycle_ms(const TwEntry& e) const noexcept {
    return q_[e.queue()].recycle_ms;
  }
  // The earliest time advance() has work, UINT64_MAX if none.
  [[nodiscard]] std::uint64_t next_expiry_us() const noexcept;

  // Copies proto's key, kind and state into a free node armed for lifetime_us from now_us and
  // returns it (unpublished). Precondition: !full().
  template <class Hooks>
  TwEntry& add(const TwEntry& proto, std::uint64_t lifetime_us, std::uint32_t recycle_ms,
               std::uint64_t now_us, Hooks& h);
  // Takes an entry (already unpublished) out of its queue and frees it.
  template <class Hooks>
  void remove(TwEntry& e, std::uint64_t now_us, Hooks& h);
  // Fires every due entry (hooks.expired), queue by queue.
  template <class Hooks>
  void advance(std::uint64_t now_us, Hooks& h);
  // Calls fn(entry, deadline_us) for up to `max` entries, queue by queue in expiry order.
  // Returns how many were visited.
  template <class Fn>
  std::size_t for_each(Fn&& fn, std::size_t max) const {
    std::size_t n = 0;
    for (const Queue& q : q_) {
      std::uint64_t tick = q.head_tick;
      for (std::uint32_t i = q.head, left = q.count; left > 0 && n < max; --left, ++n) {
        fn(at(i), tick * tick_us_);
        i = at(i).next();
        if (left > 1) tick += std::uint64_t{at(i).delta()} * q.unit;
      }
    }
    return n;
  }

 private:
  struct Queue {
    std::uint64_t lifetime_us = 0;
    std::uint64_t head_tick = 0;  // deadlines in ticks, multiples of unit
    std::uint64_t tail_tick = 0;
    std::uint32_t recycle_ms = 0;
    std::uint32_t unit = 1;  // ticks per delta step
    std::uint32_t head = 0;  // == dummy when empty
    std::uint32_t dummy = 0;
    std::uint32_t count = 0;
    bool pinned = false;
  };

  TwEntry& at(std::uint32_t i) const noexcept { return nodes_[i]; }
  std::uint32_t index(const TwEntry& e) const noexcept {
    return static_cast<std::uint32_t>(&e - nodes_.get());
  }
  std::uint32_t take_free() noexcept {
    const std::uint32_t i = free_;
    free_ = at(i).next();
    return i;
  }
  void give_free(std::uint32_t i) noexcept {
    at(i).set_link(free_, 0);
    free_ = i;
  }
  void bind(Queue& q, std::uint64_t lifetime_us, std::uint32_t recycle_ms) const noexcept;
  std::uint32_t queue_for(std::uint64_t lifetime_us, std::uint32_t recycle_ms) noexcept;
  bool due(const Queue& q, std::uint64_t now_us) const noexcept {
    return q.count != 0 && q.head_tick * tick_us_ <= now_us;
  }
  // Pops the head of q (which must be non-empty) after hooks.expired.
  template <class Hooks>
  void expire_head(std::uint32_t qi, Hooks& h);

  std::uint64_t tick_us_;
  std::size_t capacity_;
  std::size_t nodes_total_;
  std::size_t size_ = 0;
  // A lower bound on every queue head's deadline (removals only raise deadlines, so it stays
  // valid; advance() recomputes it), so a poll with nothing due costs one comparison.
  std::uint64_t earliest_us_ = 0;
  std::unique_ptr<TwEntry[]> nodes_;
  std::uint32_t free_ = kNil;
  Queue q_[kQueues];
};

template <class Hooks>
void TwPool::expire_head(std::uint32_t qi, Hooks& h) {
  Queue& q = q_[qi];
  const std::uint32_t hi = q.head;
  TwEntry& e = at(hi);
  h.expired(e, q.lifetime_us);
  q.head = e.next();
  if (--q.count != 0) q.head_tick += std::uint64_t{at(q.head).delta()} * q.unit;
  give_free(hi);
  --size_;
}

template <class Hooks>
void TwPool::advance(std::uint64_t now_us, Hooks& h) {
  if (now_us < earliest_us_) return;  // nothing can be due: skip the scan of every queue
  for (std::uint32_t qi = 0; qi < kQueues; ++qi) {
    while (due(q_[qi], now_us)) expire_head(qi, h);
  }
  earliest_us_ = next_expiry_us();
}

template <class Hooks>
TwEntry& TwPool::add(const TwEntry& proto, std::uint64_t lifetime_us, std::uint32_t recycle_ms,
                     std::uint64_t now_us, Hooks& h) {
  const std::uint32_t qi = queue_for(lifetime_us, recycle_ms);
  Queue& q = q_[qi];
  const std::uint64_t ticks = (now_us + q.lifetime_us + tick_us_ - 1) / tick_us_;
  const std::uint64_t deadline = (ticks + q.unit - 1) / q.unit * q.unit;
  // A gap too wide for 18 bits means the tail is overdue (see remove()): fire what is due.
  if (q.count != 0 && (deadline - q.tail_tick) / q.unit > TwEntry::kDeltaMax) {
    while (due(q, now_us)) expire_head(qi, h);
  }
  const std::uint32_t ni = q.dummy;
  const std::uint32_t spare = take_free();
  TwEntry& e = at(ni);
  static_cast<FlowHeader&>(e) = static_cast<const FlowHeader&>(proto);
  e.bits = proto.bits;
  e.rcv_nxt = proto.rcv_nxt;
  e.snd_nxt = proto.snd_nxt;
  e.rcv_wnd = proto.rcv_wnd;
  e.ts_recent = proto.ts_recent;
  e.ts_recent_stamp_s = proto.ts_recent_stamp_s;
  e.entry_stamp_ms = proto.entry_stamp_ms;
  e.last_oow_ack_ms = proto.last_oow_ack_ms;
  e.set_link(spare, qi);
  if (q.count == 0) {
    e.set_delta(0);
    q.head = ni;
    q.head_tick = deadline;
  } else {
    e.set_delta(static_cast<std::uint32_t>((deadline - q.tail_tick) / q.unit));
  }
  q.tail_tick = deadline;
  q.dummy = spare;
  ++q.count;
  ++size_;
  earliest_us_ = std::min(earliest_us_, deadline * tick_us_);
  return e;
}

template <class Hooks>
void TwPool::remove(TwEntry& e, std::uint64_t now_us, Hooks& h) {
  const std::uint32_t qi = e.queue();
  Queue& q = q_[qi];
  std::uint32_t ei = index(e);
  if (ei != q.head) {
    const std::uint32_t si = e.next();
    if (si != q.dummy && std::uint64_t{e.delta()} + at(si).delta() > TwEntry::kDeltaMax) {
      // The successor would be more than 2^18 units after e's predecessor. Both were armed at
      // most one lifetime before now, so the predecessor (and all before it) is overdue:
      // fire those, which makes e the head.
      while (q.head != ei && due(q, now_us)) expire_head(qi, h);
    }
  }
  if (ei == q.head) {
    q.head = e.next();
    if (--q.count != 0) q.head_tick += std::uint64_t{at(q.head).delta()} * q.unit;
    give_free(ei);
    --size_;
    return;
  }
  const std::uint32_t si = e.next();
  if (si == q.dummy) {  // e was the tail: its node becomes the spare one
    q.tail_tick -= std::uint64_t{e.delta()} * q.unit;
    q.dummy = ei;
    give_free(si);
  } else {  // move the successor into e's node
    TwEntry& s = at(si);
    const std::uint32_t merged = e.delta() + s.delta();
    e = s;
    e.set_delta(merged);
    h.moved(s, e);
    give_free(si);
  }
  --q.count;
  --size_;
}

}  // namespace twtcp::tcp
