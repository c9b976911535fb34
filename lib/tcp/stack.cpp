// lib/tcp/stack.cpp: the Stack: flow table lookup, listeners, connection and TIME_WAIT pools,
// timer wheels, port allocation, ISN / TS offset generation, and frame building.
#include "tcp/stack.hpp"

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "flow/epoch.hpp"
#include "flow/peer.hpp"
#include "ports/allocator.hpp"
#include "ports/siphash.hpp"
#include "tcp/syncookie.hpp"
#include "timewait/enter.hpp"
#include "timewait/process.hpp"
#include "timewait/recycle.hpp"
#include "timewait/reuse.hpp"
#include "wire/segment.hpp"

namespace twtcp {

namespace tcp {

TwPool::TwPool(std::size_t capacity, std::uint64_t tick_us, std::uint64_t timewait_len_us,
               std::uint64_t longest_us)
    : tick_us_(std::max<std::uint64_t>(tick_us, 1)),
      capacity_(std::min(capacity, kMaxCapacity)),
      nodes_total_(capacity_ + kQueues),
      nodes_(new TwEntry[nodes_total_]) {
  for (std::size_t i = nodes_total_; i-- > kQueues;) give_free(static_cast<std::uint32_t>(i));
  for (std::uint32_t qi = 0; qi < kQueues; ++qi) {
    q_[qi].head = q_[qi].dummy = qi;  // nodes 0..kQueues-1 start as the spare nodes
  }
  bind(q_[0], timewait_len_us, 0);
  bind(q_[1], std::max(longest_us, timewait_len_us), 0);
  q_[0].pinned = q_[1].pinned = true;
}

void TwPool::bind(Queue& q, std::uint64_t lifetime_us, std::uint32_t recycle_ms) const noexcept {
  q.lifetime_us = lifetime_us;
  q.recycle_ms = recycle_ms;
  // Deltas must cover a lifetime plus two units (see remove()): one unit up to 262 s at 1 ms.
  const std::uint64_t ticks = (lifetime_us + tick_us_ - 1) / tick_us_;
  q.unit = static_cast<std::uint32_t>(
      std::max<std::uint64_t>(1, (ticks + 2 + TwEntry::kDeltaMax - 2) / (TwEntry::kDeltaMax - 1)));
}

std::uint32_t TwPool::queue_for(std::uint64_t lifetime_us, std::uint32_t recycle_ms) noexcept {
  if (lifetime_us == q_[0].lifetime_us && recycle_ms == 0) return 0;  // timewait_len: most
  std::uint32_t free_q = kQueues;
  for (std::uint32_t qi = 0; qi < kQueues; ++qi) {
    const Queue& q = q_[qi];
    if (q.count == 0 && !q.pinned) {
      if (free_q == kQueues) free_q = qi;
      continue;
    }
    if (q.lifetime_us == lifetime_us && q.recycle_ms == recycle_ms) return qi;
  }
  if (free_q != kQueues) {
    bind(q_[free_q], lifetime_us, recycle_ms);
    return free_q;
  }
  // Every queue is taken: the shortest longer lifetime, preferring the same recycle timeout.
  std::uint32_t best = 1;
  bool best_same = false;
  for (std::uint32_t qi = 0; qi < kQueues; ++qi) {
    const Queue& q = q_[qi];
    if (q.lifetime_us < lifetime_us) continue;
    const bool same = q.recycle_ms == recycle_ms;
    if ((same && !best_same) || (same == best_same && q.lifetime_us < q_[best].lifetime_us)) {
      best = qi;
      best_same = same;
    }
  }
  return best;
}

std::uint64_t TwPool::next_expiry_us() const noexcept {
  std::uint64_t t = UINT64_MAX;
  for (const Queue& q : q_) {
    if (q.count != 0) t = std::min(t, q.head_tick * tick_us_);
  }
  return t;
}

}  // namespace tcp

std::string_view to_string(CloseReason r) noexcept {
  switch (r) {
    case CloseReason::kNone:
      return "none";
    case CloseReason::kNormal:
      return "normal";
    case CloseReason::kPeerReset:
      return "peer-reset";
    case CloseReason::kRefused:
      return "refused";
    case CloseReason::kTimeout:
      return "timeout";
    case CloseReason::kLocalReset:
      return "local-reset";
  }
  return "?";
}

namespace {

struct CounterRow {
  std::string_view group;
  std::string_view name;
  std::uint64_t StackCounters::*field;
};

#define TWTCP_ROW(g, n)      \
  CounterRow {               \
    g, #n, &StackCounters::n \
  }
constexpr CounterRow kCounterRows[] = {
    TWTCP_ROW("Tcp", ActiveOpens),
    TWTCP_ROW("Tcp", PassiveOpens),
    TWTCP_ROW("Tcp", AttemptFails),
    TWTCP_ROW("Tcp", EstabResets),
    TWTCP_ROW("Tcp", CurrEstab),
    TWTCP_ROW("Tcp", InSegs),
    TWTCP_ROW("Tcp", OutSegs),
    TWTCP_ROW("Tcp", RetransSegs),
    TWTCP_ROW("Tcp", InErrs),
    TWTCP_ROW("Tcp", OutRsts),
    TWTCP_ROW("TcpExt", TW),
    TWTCP_ROW("TcpExt", TWKilled),
    TWTCP_ROW("TcpExt", TWRecycled),
    TWTCP_ROW("TcpExt", TCPTimeWaitOverflow),
    TWTCP_ROW("TcpExt", PAWSActive),
    TWTCP_ROW("TcpExt", PAWSPassive),
    TWTCP_ROW("TcpExt", PAWSEstab),
    TWTCP_ROW("TcpExt", PAWSTimewait),
    TWTCP_ROW("TcpExt", TCPACKSkippedTimeWait),
    TWTCP_ROW("TcpExt", TCPACKSkippedFinWait2),
    TWTCP_ROW("TcpExt", TCPACKSkippedPAWS),
    TWTCP_ROW("TcpExt", TCPACKSkippedSeq),
    TWTCP_ROW("TcpExt", TCPACKSkippedChallenge),
    TWTCP_ROW("TcpExt", TCPChallengeACK),
    TWTCP_ROW("TcpExt", TCPSYNChallenge),
    TWTCP_ROW("TcpExt", TCPAbortOnData),
    TWTCP_ROW("TcpExt", TCPAbortOnClose),
    TWTCP_ROW("TcpExt", TCPAbortOnTimeout),
    TWTCP_ROW("TcpExt", TCPOFODrop),
    TWTCP_ROW("TcpExt", TCPOFOQueue),
    TWTCP_ROW("TcpExt", TCPOFOMerge),
    TWTCP_ROW("TcpExt", TCPFastRetrans),
    TWTCP_ROW("TcpExt", TCPRenoRecovery),
    TWTCP_ROW("TcpExt", TCPSackRecovery),
    TWTCP_ROW("TcpExt", TCPTimeouts),
    TWTCP_ROW("TcpExt", ListenDrops),
    TWTCP_ROW("TcpExt", ListenOverflows),
    TWTCP_ROW("TcpExt", TCPReqQFullDrop),
    TWTCP_ROW("TcpExt", TCPReqQFullDoCookies),
    TWTCP_ROW("TcpExt", SyncookiesSent),
    TWTCP_ROW("TcpExt", SyncookiesRecv),
    TWTCP_ROW("TcpExt", SyncookiesFailed),
    TWTCP_ROW("twtcp", TwtcpRxDropped),
    TWTCP_ROW("twtcp", TwtcpConnectNoBuffers),
    TWTCP_ROW("twtcp", TwtcpListenLimit),
    TWTCP_ROW("twtcp", TwtcpChallengeAckLimited),
    TWTCP_ROW("twtcp", TwtcpPeerEvictions),
};
#undef TWTCP_ROW

}  // namespace

void StackCounters::for_each(
    const std::function<void(std::string_view, std::string_view, std::uint64_t)>& fn) const {
  for (const CounterRow& r : kCounterRows) fn(r.group, r.name, this->*r.field);
}

StackCounters& StackCounters::operator+=(const StackCounters& o) noexcept {
  for (const CounterRow& r : kCounterRows) this->*r.field += o.*r.field;
  return *this;
}

std::int64_t StackCounters::get(std::string_view name) const {
  for (const CounterRow& r : kCounterRows) {
    if (r.name == name) return static_cast<std::int64_t>(this->*r.field);
  }
  return -1;
}

using tcp::ConnEntry;
using tcp::FlowKey;
using tcp::TwEntry;
using tcp::TwPool;
namespace tw = timewait;

struct Stack::Impl {
  Impl(const Config& c, const Identity& ident, TxSink& sink, std::uint64_t now_us)
      : cfg(c),
        id(ident),
        tx(sink),
        params(tcp::params_from_config(c)),
        challenge_budget(c.tcp_challenge_ack_limit, c.kernel_model >= KernelModel::V4_4,
                         c.random_seed ^ 0xc4a11e9eULL),
        policy(tw::policy_from_config(c)),
        eff(c.effective()),
        table(flow::FlowTableConfig{static_cast<std::size_t>(c.flow_table_capacity),
                                    c.random_seed ^ 0x5eedf10eULL}),
        epoch(1),
        reader(epoch.register_reader()),
        conn_wheel(timer::geometry_from_config(c), now_us),
        tw_pool(std::min<std::size_t>(static_cast<std::size_t>(std::max(c.tcp_max_tw_buckets, 0)),
                                      static_cast<std::size_t>(c.flow_table_capacity)),
                timer::geometry_from_config(c).tick_us, policy.timewait_len_us,
                longest_timewait_us(params, policy)),
        ports(ports::allocator_options_from_config(c)),
        peers(static_cast<std::size_t>(c.peer_table_size), c.random_seed ^ 0x9ee7ULL),
        now(now_us) {
    if (c.max_connections <= 0) throw std::invalid_argument("Stack: max_connections must be > 0");
    if (ports::apply_config(ports, c) != ports::RangeError::kOk) {
      throw std::invalid_argument("Stack: bad ip_local_port_range / reserved ports");
    }
    ports::SplitMix64 sm{c.random_seed};
    isn_key = {sm.next(), sm.next()};
    ts_key = {sm.next(), sm.next()};
    if (c.max_listeners <= 0) throw std::invalid_argument("Stack: max_listeners must be > 0");
    listeners.reserve(static_cast<std::size_t>(c.max_listeners));
    conns.reserve(static_cast<std::size_t>(c.max_connections));
    conn_free.reserve(static_cast<std::size_t>(c.max_connections));
    txbuf = std::make_unique<std::array<std::uint8_t, kTxBufSize>>();
    params.challenge_budget = &challenge_budget;
  }

  // The longest lifetime a TIME_WAIT entry can be armed with: timewait_len, the FIN_WAIT2
  // timeout, or 3.5 * RTO (in whole ms under tw_recycle) with the RTO at its ceiling.
  static std::uint64_t longest_timewait_us(const tcp::Params& p, const tw::TimeWaitPolicy& pol) {
    const std::uint64_t rto35_ms = (tw::rto_3_5(p.rto_max_us) + 999) / 1000;
    return std::max({pol.timewait_len_us, p.fin_timeout_us, rto35_ms * 1000});
  }

  // ---- frame output ----
  static constexpr std::size_t kTxBufSize = 65536 + 256;

  void transmit(const FlowKey& k, std::uint32_t seq, std::uint32_t ack, std::uint8_t fl,
                std::uint16_t win, const wire::TcpOptions& opts, const ConnEntry* from,
                const tcp::OutSegment* seg) {
    wire::SegmentSpec s;
    s.eth_src = id.mac;
    s.eth_dst = id.peer_mac;
    s.src_addr = k.local_addr;
    s.dst_addr = k.remote_addr;
    s.ip_id = ip_id++;
    s.tcp.src_port = k.local_port;
    s.tcp.dst_port = k.remote_port;
    s.tcp.seq = seq;
    s.tcp.ack = ack;
    s.tcp.flags = fl;
    s.tcp.window = win;
    s.tcp.options = opts;
    const std::size_t hlen = wire::segment_header_length(s);
    const std::size_t plen = from != nullptr && seg != nullptr ? seg->payload_len : 0;
    // In the sink's memory when it offers some (no copy after building), else in ours.
    std::span<std::uint8_t> buf = tx.tx_begin(hlen + plen);
    const bool in_sink = !buf.empty();
    if (!in_sink) buf = {txbuf->data(), txbuf->size()};
    std::size_t len = 0;
    if (hlen + plen <= buf.size()) {
      std::span<const std::uint8_t> payload;
      if (plen != 0) {
        const std::size_t n = from->conn->copy_payload(*seg, buf.subspan(hlen, plen));
        payload = buf.subspan(hlen, n);
      }
      len = wire::build_segment(buf, s, payload, tx_checksums);
    }
    if (in_sink) {
      tx.tx_commit(len);
    } else if (len != 0) {
      tx.transmit(buf.first(len));
    }
  }

  static wire::TcpOptions to_wire(const tcp::SegOptions& o) {
    wire::TcpOptions w;
    w.mss = o.mss;
    w.wscale = o.wscale;
    w.sack_permitted = o.sack_ok;
    if (o.has_ts) w.ts = wire::TcpTimestamps{o.tsval, o.tsecr};
    static_assert(tcp::SegOptions::kMaxSackBlocks <= wire::TcpOptions::kMaxSackBlocks);
    w.sack_count = std::min<std::uint8_t>(o.sack_count, tcp::SegOptions::kMaxSackBlocks);
    for (std::size_t b = 0; b < w.sack_count; ++b) {
      w.sack[b] = wire::TcpSackBlock{o.sack[b].left, o.sack[b].right};
    }
    return w;
  }

  void drain(ConnEntry& e) {
    for (const tcp::OutSegment& s : out.view()) {
      transmit(e.key, s.seq, s.ack, s.flags, s.window, to_wire(s.opts), &e, &s);
    }
    out.clear();
  }

  // RFC 9293 §3.10.7.1 reset generation for a segment no connection owns. Never for an RST.
  void send_rst_for(const wire::SegmentView& v) {
    if (v.flags & wire::tcp_flags::kRst) return;
    const FlowKey k{v.dst_addr, v.src_addr, v.dst_port, v.src_port};
    if (v.flags & wire::tcp_flags::kAck) {
      transmit(k, v.ack, 0, wire::tcp_flags::kRst, 0, {}, nullptr, nullptr);
    } else {
      transmit(k, 0, v.end_seq(), wire::tcp_flags::kRst | wire::tcp_flags::kAck, 0, {}, nullptr,
               nullptr);
    }
    ++ctr.OutSegs;
    ++ctr.OutRsts;
  }

  // ---- identifiers, ISN, TS offset ----
  static ConnId make_id(const ConnEntry& e) {
    return (std::uint64_t{e.gen} << 32) | (std::uint64_t{e.slot} + 1);
  }
  ConnEntry* lookup_id(ConnId cid) const {
    const std::uint64_t slot1 = cid & 0xffffffffu;
    if (slot1 == 0 || slot1 > conns.size()) return nullptr;
    ConnEntry* e = conns[slot1 - 1].get();
    if (!e->live || e->gen != (cid >> 32)) return nullptr;
    return e;
  }

  std::uint32_t isn_for(const FlowKey& k) const {
    // RFC 6528: keyed hash of the 4-tuple plus a clock (Linux: 64 ns units).
    const auto h = static_cast<std::uint32_t>(ports::siphash24_3u32(
        isn_key, k.local_addr, k.remote_addr, (std::uint32_t{k.local_port} << 16) | k.remote_port));
    return h + static_cast<std::uint32_t>(now * 1000 / 64);
  }
  std::uint32_t ts_offset_for(const FlowKey& k) const {
    switch (eff.ts_offset) {
      case TsOffset::kNone:
        return 0;
      case TsOffset::kPerHost:
        return static_cast<std::uint32_t>(
            ports::siphash24_3u32(ts_key, k.local_addr, k.remote_addr, 0));
      case TsOffset::kPerConn:
        return static_cast<std::uint32_t>(
            ports::siphash24_3u32(ts_key, k.local_addr, k.remote_addr,
                                  (std::uint32_t{k.local_port} << 16) | k.remote_port));
    }
    return 0;
  }

  // ---- connection pool ----
  ConnEntry* alloc_conn(const FlowKey& k) {
    ConnEntry* e = nullptr;
    if (!conn_free.empty()) {
      e = conns[conn_free.back()].get();
      conn_free.pop_back();
    } else if (conns.size() < static_cast<std::size_t>(cfg.max_connections)) {
      conns.push_back(std::make_unique<ConnEntry>());
      e = conns.back().get();
      e->slot = static_cast<std::uint32_t>(conns.size() - 1);
    } else {
      return nullptr;
    }
    e->key = k;
    e->kind = flow::EntryKind::kConnection;
    const std::size_t snd = std::max<std::uint32_t>(params.sndbuf, 1);
    const std::size_t rcv = std::max<std::uint32_t>(params.rcvbuf, 1);
    if (!e->buffers) e->buffers = std::make_unique_for_overwrite<std::uint8_t[]>(snd + rcv);
    e->conn.emplace(params, ctr, out, std::span<std::uint8_t>(e->buffers.get(), snd),
                    std::span<std::uint8_t>(e->buffers.get() + snd, rcv));
    e->live = true;
    e->passive = false;
    e->cb = {};
    ++conn_live;
    return e;
  }
  // The entry must already be out of the table. The id dies at once; the slot returns to the
  // pool when no callback of the entry is running.
  void free_conn(ConnEntry& e) {
    conn_wheel.cancel(e.timer);
    e.conn.reset();
    e.live = false;
    ++e.gen;
    if (e.gen == 0) e.gen = 1;
    --conn_live;
    if (e.busy == 0) {
      release(e);
    } else {
      e.release_pending = true;
    }
  }
  void release(ConnEntry& e) {
    e.cb = {};
    e.release_pending = false;
    conn_free.push_back(e.slot);
  }
  void unbusy(ConnEntry& e) {
    if (--e.busy == 0 && e.release_pending) release(e);
  }
  template <class F, class... A>
  void fire(ConnEntry& e, F Callbacks::*member, A... args) {
    if (!e.cb || !(e.cb.get()->*member)) return;
    ++e.busy;
    (e.cb.get()->*member)(args...);
    unbusy(e);
  }

  // ---- TIME_WAIT pool ----
  void bump(tw::TwCounters c) {
    using C = tw::TwCounter;
    if (c.has(C::kTW)) ++ext.TW;
    if (c.has(C::kTWKilled)) ++ext.TWKilled;
    if (c.has(C::kTWRecycled)) ++ext.TWRecycled;
    if (c.has(C::kTCPTimeWaitOverflow)) ++ext.TCPTimeWaitOverflow;
    if (c.has(C::kPAWSEstab)) ++ctr.PAWSEstab;
    if (c.has(C::kPAWSTimewait)) ++ext.PAWSTimewait;
    if (c.has(C::kPAWSPassive)) ++ext.PAWSPassive;
    if (c.has(C::kTCPACKSkippedTimeWait)) ++ext.TCPACKSkippedTimeWait;
    if (c.has(C::kTCPACKSkippedFinWait2)) ++ext.TCPACKSkippedFinWait2;
  }
  // What TwPool asks of its owner: repoint the table at a moved entry, and expire one.
  struct TwHooks {
    Impl& im;
    void moved(TwEntry& from, TwEntry& to) { (void)im.table.replace(&from, &to); }
    void expired(TwEntry& e, std::uint64_t lifetime_us) {
      if (im.policy.tw_counted_at_expiry) {  // 3.x: by the duration it was last armed for
        tw::TwCounters c;
        c.add(tw::tw_expiry_counter(lifetime_us, im.policy));
        im.bump(c);
      }
      im.table.erase(&e);
    }
  };
  TwHooks tw_hooks{*this};

  tw::TwEntryState tw_state(const TwEntry& t) const {
    return t.state(ts_offset_for(t.key), tw_pool.recycle_ms(t));
  }
  // The entry must already be out of the table. Moves another entry (see TwPool).
  void free_tw(TwEntry& t) { tw_pool.remove(t, now, tw_hooks); }
  // Unpublish and free. Single-threaded: no reader can hold the pointer past this call, so
  // no QSBR grace period is needed (a multi-lcore stack would retire through flow::Limbo).
  void kill_tw(TwEntry& t) {
    table.erase(&t);
    free_tw(t);
  }
  // Restarts t's timer: it moves to the tail of the queue for `lifetime_us` (t is dead after).
  void rearm_tw(TwEntry& t, std::uint64_t lifetime_us) {
    const TwEntry copy = t;
    kill_tw(t);
    // Only F6 reads the recycle timeout, and every re-arm leaves FIN_WAIT2.
    TwEntry& n = tw_pool.add(copy, lifetime_us, 0, now, tw_hooks);
    // t's slot in its probe window was just freed, so this cannot fail.
    if (table.insert(&n) != flow::InsertResult::kInserted) free_tw(n);
  }

  // The connection raised kTimeWait: replace it by a compact entry (or just free it).
  void enter_timewait(ConnEntry& e) {
    tw::TwEnterRequest req = e.conn->timewait_request();
    req.conn.is_loopback =
        tw::is_loopback_v4(e.key.local_addr) || tw::is_loopback_v4(e.key.remote_addr);
    if (tw::recycle_wanted(req.conn, policy)) {
      auto up = peers.get_or_create(flow::PeerAddrV4{e.key.remote_addr}, now);
      tw::PeerStamp ps{up.peer->ts.ts_recent, up.peer->ts.ts_stamp_s};
      if (tw::recycle_remember(ps, req.conn.ts_recent, req.conn.ts_recent_stamp_s, now, policy)) {
        up.peer->ts.ts_recent = ps.ts;
        up.peer->ts.ts_stamp_s = ps.ts_stamp_s;
        up.peer->ts.updated_us = now;
      }
      req.recycle_ok = true;
    }
    if (req.state == tw::TwSubstate::kFinWait2) {
      const tw::FinWait2Plan plan =
          tw::fin_wait2_orphan_plan(params.fin_timeout_us, req.rto_us, policy);
      // Longer-than-60 s FIN_WAIT2 (keep the full socket first) is not modelled: the whole
      // lifetime goes to the TW entry.
      if (!plan.keep_full_socket) req.timeo_us = plan.tw_timeo_us;
    }
    req.live_tw_count = static_cast<std::uint32_t>(tw_pool.size());
    tw::TwEnterResult r = tw::timewait_enter(req, policy, now);
    if (r.status == tw::TwEnterStatus::kCreated && tw_pool.full()) {
      r.status = tw::TwEnterStatus::kOverflow;  // pool bounded by the flow table
      r.counters = {};
      r.counters.add(tw::TwCounter::kTCPTimeWaitOverflow);
    }
    if (r.status != tw::TwEnterStatus::kCreated) {
      if (r.status == tw::TwEnterStatus::kOverflow) bump(r.counters);
      table.erase(&e);
      return;
    }
    TwEntry proto;
    proto.key = e.key;
    proto.kind = flow::EntryKind::kTimeWait;
    proto.store(r.entry);
    // ts_offset is not stored: the connection got ts_offset_for(key) from this stack.
    const std::uint32_t recycle_ms =
        r.entry.substate == tw::TwSubstate::kFinWait2 ? r.entry.recycle_timeout_ms : 0;
    TwEntry& t = tw_pool.add(proto, r.lifetime_us, recycle_ms, now, tw_hooks);
    if (!table.replace(&e, &t)) {  // cannot happen: e is published under this key
      table.erase(&e);
      free_tw(t);
      return;
    }
    bump(r.counters);
  }

  // After every call into a connection: emit its segments, re-arm its timer, deliver events,
  // retire it on CLOSED / TIME_WAIT. Callbacks may re-enter the Stack (even on this
  // connection), so the entry is re-validated by generation after each of them.
  // `release`: this call held the connection's output (with_conn), so what the callbacks
  // wrote leaves now, with the ACK the segment owed riding on it.
  void sync(ConnEntry& e, bool release = false) {
    const ConnId cid = make_id(e);
    const std::uint32_t gen = e.gen;
    drain(e);
    if (e.in_syn_queue && e.conn->state() != tcp::State::kSynReceived) leave_syn_queue(e);
    const std::uint8_t ev = e.conn->take_events();
    const bool passive = e.passive;
    if (ev & (tcp::event::kClosed | tcp::event::kTimeWait)) {
      // Even when an outer call holds the output: the ACK this connection owes leaves before
      // the connection does (an orphan's FIN_WAIT2 hand-off from a callback, say).
      e.conn->release_output(now);
      drain(e);
      const CloseReason why =
          (ev & tcp::event::kTimeWait) ? CloseReason::kNormal : e.conn->close_reason();
      ++e.busy;
      if (ev & tcp::event::kTimeWait) {
        enter_timewait(e);
      } else {
        table.erase(&e);
      }
      // Bytes the app has not read are lost with the connection, as after close().
      free_conn(e);
      if (ev & tcp::event::kConnected) {
        fire(e, passive ? &Callbacks::on_accepted : &Callbacks::on_connected, cid);
      }
      if (ev & tcp::event::kPeerFin) fire(e, &Callbacks::on_peer_closed, cid);
      fire(e, &Callbacks::on_closed, cid, why);
      unbusy(e);
      return;
    }
    const std::uint64_t dl = e.conn->next_deadline();
    if (dl == UINT64_MAX) {
      conn_wheel.cancel(e.timer);
    } else {
      conn_wheel.schedule(e.timer, dl);
    }
    // Callbacks may re-enter the Stack and close this connection: re-check before each.
    auto alive = [&] { return e.live && e.gen == gen; };
    if (ev & tcp::event::kConnected) {
      fire(e, passive ? &Callbacks::on_accepted : &Callbacks::on_connected, cid);
    }
    if (alive() && (ev & tcp::event::kReadable)) fire(e, &Callbacks::on_readable, cid);
    if (alive() && (ev & tcp::event::kWritable)) fire(e, &Callbacks::on_writable, cid);
    if (alive() && (ev & tcp::event::kPeerFin)) fire(e, &Callbacks::on_peer_closed, cid);
    if (release && alive()) {
      const std::uint64_t armed = e.conn->next_deadline();
      e.conn->release_output(now);
      // Mostly nothing was held (a pure ACK in, say): then there is nothing to redo.
      if (out.size != 0 || e.conn->events() != 0 || e.conn->next_deadline() != armed) {
        drain_full(e);
        sync(e);
      }
    }
  }

  void drain_full(ConnEntry& e) {
    while (out.size == tcp::OutQueue::kCapacity) {
      drain(e);
      e.conn->flush(now);
    }
  }

  // Runs op on a live connection, draining a full OutQueue as Connection asks. The outermost
  // call holds the connection's output until its callbacks have run (see
  // Connection::hold_output): calls made from those callbacks add to what leaves then.
  template <class Op>
  auto with_conn(ConnEntry& e, Op&& op) {
    const bool outermost = !e.conn->output_held();
    e.conn->hold_output();
    auto r = op(*e.conn);
    drain_full(e);
    sync(e, outermost);
    return r;
  }

  // ---- input paths ----
  void on_timewait_segment(TwEntry& t, const wire::SegmentView& v) {
    tw::TwSegment s;
    s.seq = v.seq;
    s.ack = v.ack;
    s.payload_len = static_cast<std::uint32_t>(v.payload.size());
    s.syn = v.flags & wire::tcp_flags::kSyn;
    s.ack_flag = v.flags & wire::tcp_flags::kAck;
    s.fin = v.flags & wire::tcp_flags::kFin;
    s.rst = v.flags & wire::tcp_flags::kRst;
    s.has_ts = v.options.ts.has_value();
    if (s.has_ts) {
      s.tsval = v.options.ts->tsval;
      s.tsecr = v.options.ts->tsecr;
    }
    tw::TwEntryState st = tw_state(t);
    tw::TwVerdict vd = tw::timewait_process(st, s, policy, now);
    t.store(st);
    if (vd.action == tw::TwAction::kSynReopen) {
      if (const Listener* l = find_listener(v.dst_port)) {
        bump(vd.counters);
        const Listener copy = *l;
        kill_tw(t);
        passive_open(v, copy, vd.isn, /*via_timewait=*/true);  // counts InSegs on every path
        return;
      }
      vd = tw::timewait_syn_without_listener(vd);
    }
    ++ctr.InSegs;
    bump(vd.counters);
    switch (vd.action) {
      case tw::TwAction::kDrop:
        break;
      case tw::TwAction::kSendAck: {
        const tw::TwAck a = tw::ack_reply(st, now);
        wire::TcpOptions o;
        if (a.has_ts) o.ts = wire::TcpTimestamps{a.tsval, a.tsecr};
        transmit(t.key, a.seq, a.ack, wire::tcp_flags::kAck, a.win, o, nullptr, nullptr);
        ++ctr.OutSegs;
        break;
      }
      case tw::TwAction::kKillAndRst: {
        const tw::TwRst r = tw::rst_reply(s);
        transmit(t.key, r.seq, r.ack,
                 static_cast<std::uint8_t>(wire::tcp_flags::kRst |
                                           (r.ack_flag ? wire::tcp_flags::kAck : 0)),
                 0, {}, nullptr, nullptr);
        ++ctr.OutSegs;
        ++ctr.OutRsts;
        kill_tw(t);
        return;
      }
      case tw::TwAction::kKill:
        kill_tw(t);
        return;
      case tw::TwAction::kSynReopen:
        break;  // replaced above
    }
    std::uint64_t rearm = vd.rearm ? vd.rearm_us : 0;
    if (vd.recycle_remember_peer) {
      if (auto* p = peers.find(flow::PeerAddrV4{t.key.remote_addr}, now)) {
        tw::PeerStamp ps{p->ts.ts_recent, p->ts.ts_stamp_s};
        if (tw::recycle_remember(ps, st.ts_recent, st.ts_recent_stamp_s, now, policy)) {
          p->ts.ts_recent = ps.ts;
          p->ts.ts_stamp_s = ps.ts_stamp_s;
          p->ts.updated_us = now;
        }
        rearm = vd.recycled_rearm_us;
      }
    }
    if (rearm != 0) rearm_tw(t, rearm);
  }

  struct Listener {
    std::uint16_t port = 0;
    std::shared_ptr<const Callbacks> cb;
    // Passive opens of this listener still in SYN-RECEIVED (its SYN backlog).
    std::uint32_t syn_queue = 0;
    // When it last answered with a SYN cookie (Linux's tcp_synq_overflow() stamp): ACKs are
    // checked for cookies only within syncookie::kValidUs of it.
    bool cookie_sent = false;
    std::uint64_t last_cookie_us = 0;
  };
  const Listener* find_listener(std::uint16_t port) const {
    for (const Listener& l : listeners) {
      if (l.port == port) return &l;
    }
    return nullptr;
  }
  Listener* find_listener(std::uint16_t port) {
    return const_cast<Listener*>(std::as_const(*this).find_listener(port));
  }
  void leave_syn_queue(ConnEntry& e) {
    e.in_syn_queue = false;
    if (Listener* l = find_listener(e.key.local_port)) --l->syn_queue;
  }
  [[nodiscard]] bool pool_exhausted() const {
    return conn_free.empty() && conns.size() >= static_cast<std::size_t>(cfg.max_connections);
  }

  // ---- SYN cookies (tcp/syncookie.hpp) ----
  static tcp::syncookie::Secret cookie_secret_from(std::uint64_t seed) {
    ports::SplitMix64 sm{seed ^ 0xc00c1e5ULL};
    return {{sm.next(), sm.next()}, {sm.next(), sm.next()}};
  }
  static tcp::syncookie::Tuple cookie_tuple(const FlowKey& k) {
    return {k.local_addr, k.remote_addr, k.local_port, k.remote_port};
  }
  // The window shift our SYN-ACK offers: the one Connection picks for its receive buffer.
  std::uint8_t our_rcv_wscale() const {
    const std::size_t rcv = std::max<std::uint32_t>(params.rcvbuf, 1);
    std::uint8_t ws = 0;
    while (ws < 14 && (rcv >> ws) > 65535) ++ws;
    return ws;
  }
  // Answers a SYN statelessly (tcp_conn_request() with want_cookie): the options our SYN-ACK
  // would carry, but only what the cookie can bring back (no TS: MSS only).
  void send_cookie_synack(const wire::SegmentView& v, const FlowKey& k, Listener& l) {
    namespace sc = tcp::syncookie;
    wire::TcpOptions o;
    o.mss = params.mss;
    if (params.timestamps != 0 && v.options.ts) {
      sc::TsOptions carried;
      if (params.window_scaling && v.options.wscale) {
        carried.wscale = std::min<std::uint8_t>(*v.options.wscale, 14);
        o.wscale = our_rcv_wscale();
      }
      if (params.sack && v.options.sack_permitted) carried.sack_ok = o.sack_permitted = true;
      const std::uint32_t tsval = sc::encode_ts(tw::ts_clock_ms(now), carried) + ts_offset_for(k);
      o.ts = wire::TcpTimestamps{tsval, v.options.ts->tsval};
    }
    const std::uint32_t isn = sc::make_isn(cookie_secret, cookie_tuple(k), v.seq,
                                           sc::minute_of(now), sc::mss_index(v.options.mss));
    const auto win = static_cast<std::uint16_t>(
        std::min<std::uint32_t>(std::max<std::uint32_t>(params.rcvbuf, 1), 65535));
    transmit(k, isn, v.seq + 1, wire::tcp_flags::kSyn | wire::tcp_flags::kAck, win, o, nullptr,
             nullptr);
    ++ctr.InSegs;
    ++ctr.OutSegs;
    ++ext.SyncookiesSent;
    l.cookie_sent = true;
    l.last_cookie_us = now;
  }
  // An ACK to a listener with no connection: if it returns one of our cookies, open the
  // connection in ESTABLISHED (cookie_v4_check()). false: not a cookie (the caller answers
  // with an RST, as Linux's listener does).
  bool open_from_cookie(const wire::SegmentView& v, const Listener& l) {
    namespace sc = tcp::syncookie;
    if (cfg.tcp_syncookies == 0 || !l.cookie_sent || now - l.last_cookie_us >= sc::kValidUs) {
      return false;
    }
    const FlowKey k{v.dst_addr, v.src_addr, v.dst_port, v.src_port};
    const auto mss =
        sc::check_isn(cookie_secret, cookie_tuple(k), v.seq - 1, v.ack - 1, sc::minute_of(now));
    if (!mss) {
      ++ext.SyncookiesFailed;
      return false;
    }
    tcp::SegOptions o;
    o.mss = *mss;
    if (v.options.ts) {
      if (params.timestamps == 0) return false;
      const auto carried =
          sc::decode_ts(v.options.ts->tsecr - ts_offset_for(k), params.sack, params.window_scaling);
      if (!carried) return false;
      o.wscale = carried->wscale;
      o.sack_ok = carried->sack_ok;
      o.has_ts = true;
      o.tsval = v.options.ts->tsval;
    }
    ++ext.SyncookiesRecv;
    ConnEntry* e = alloc_conn(k);
    if (e != nullptr && table.insert(e) != flow::InsertResult::kInserted) {
      free_conn(*e);
      e = nullptr;
    }
    if (e == nullptr) {  // tcp_v4_syn_recv_sock() failing: accept queue full
      ++ctr.InSegs;
      ++ext.ListenOverflows;
      ++ext.ListenDrops;
      return true;
    }
    e->passive = true;
    e->in_syn_queue = false;
    e->cb = l.cb;
    const tcp::Segment seg = tcp::from_view(v);
    with_conn(*e, [&](tcp::Connection& c) {
      return c.accept_cookie_ack(seg, v.ack - 1, o, ts_offset_for(k), now);
    });
    return true;
  }

  // tcp_conn_request(): a SYN reached listener `l` (isn != 0: a SYN reopening TIME_WAIT, whose
  // ISN lib/timewait chose; Linux never answers those with a cookie).
  void passive_open(const wire::SegmentView& v, const Listener& l, std::uint32_t isn,
                    bool via_timewait) {
    const FlowKey k{v.dst_addr, v.src_addr, v.dst_port, v.src_port};
    Listener* ls = find_listener(l.port);
    if (ls == nullptr) return;
    if (isn == 0) {
      const bool backlog_full =
          ls->syn_queue >= static_cast<std::uint32_t>(std::max(cfg.tcp_max_syn_backlog, 1));
      // No free connection: Linux would fail to allocate the request (or find its accept queue
      // full); without cookies that is a ListenOverflows drop, with them a cookie.
      if (cfg.tcp_syncookies == 2 || backlog_full || pool_exhausted()) {
        if (cfg.tcp_syncookies != 0) {
          ++ext.TCPReqQFullDoCookies;
          send_cookie_synack(v, k, *ls);
          return;
        }
        ++ctr.InSegs;
        ++ext.ListenDrops;
        if (backlog_full) {
          ++ext.TCPReqQFullDrop;
        } else {
          ++ext.ListenOverflows;
        }
        return;
      }
    }
    if (policy.recycle && !via_timewait) {
      const auto* p = peers.peek(flow::PeerAddrV4{v.src_addr});
      tw::PeerStamp ps;
      if (p != nullptr) ps = {p->ts.ts_recent, p->ts.ts_stamp_s};
      const auto vr =
          tw::recycle_syn_acceptable(p ? &ps : nullptr, v.options.ts.has_value(),
                                     v.options.ts ? v.options.ts->tsval : 0, false, now, policy);
      if (vr == tw::RecycleSynVerdict::kDrop) {
        ++ctr.InSegs;
        ++ext.PAWSPassive;
        return;
      }
    }
    ConnEntry* e = alloc_conn(k);
    if (e == nullptr) {
      ++ctr.InSegs;
      ++ext.ListenDrops;
      return;
    }
    e->passive = true;
    e->cb = l.cb;
    if (table.insert(e) != flow::InsertResult::kInserted) {
      ++ctr.InSegs;
      ++ext.ListenDrops;
      free_conn(*e);
      return;
    }
    e->in_syn_queue = true;
    ++ls->syn_queue;
    const tcp::Segment seg = tcp::from_view(v);
    const std::uint32_t iss = isn != 0 ? isn : isn_for(k);
    const bool ok = with_conn(
        *e, [&](tcp::Connection& c) { return c.accept_syn(seg, iss, ts_offset_for(k), now); });
    if (!ok && e->live && e->conn->state() == tcp::State::kClosed) {
      table.erase(e);
      free_conn(*e);
    }
  }

  // The checks every received frame passes before the flow table sees it: the device's
  // checksum verdicts, parsing, our address. nullopt: counted and dropped.
  std::optional<wire::SegmentView> admit(std::span<const std::uint8_t> frame, RxChecksums checked) {
    // A device's verdict replaces the software check; a bad one is counted as that check
    // would count it (a bad IPv4 header is no segment at all, a bad TCP sum is InErrs).
    if (checked.ipv4 == RxChecksum::kBad) {
      ++ext.TwtcpRxDropped;
      return std::nullopt;
    }
    const wire::Checksums verify{checked.ipv4 == RxChecksum::kUnchecked,
                                 checked.tcp == RxChecksum::kUnchecked};
    const auto p = wire::parse_segment(frame, verify);
    if (!p) {
      ++ext.TwtcpRxDropped;
      if (p.error == wire::ParseError::kTcpBadChecksum) ++ext.InErrs;
      return std::nullopt;
    }
    if (checked.tcp == RxChecksum::kBad) {
      ++ext.TwtcpRxDropped;
      ++ext.InErrs;
      return std::nullopt;
    }
    if (p->dst_addr != id.addr) {
      ++ext.TwtcpRxDropped;
      return std::nullopt;
    }
    return *p;
  }

  static FlowKey key_of(const wire::SegmentView& v) noexcept {
    return FlowKey{v.dst_addr, v.src_addr, v.dst_port, v.src_port};
  }

  void input(std::span<const std::uint8_t> frame, RxChecksums checked) {
    if (const auto v = admit(frame, checked)) deliver(*v, table.find(key_of(*v)));
  }

  // input() for a burst, in order, with the burst's cache misses overlapped: at millions of
  // flows each segment's bucket, entry and connection are DRAM misses (~350 ns each on a VM),
  // and one frame at a time they queue behind each other. Pass 1 parses every frame (its
  // headers prefetched a few frames ahead) and prefetches its home bucket; pass 2 finds the
  // tag match in the now cached bucket and prefetches the entry, all of a connection slot's
  // lines or the TIME_WAIT node's (the pool's address range tells which, without reading
  // it); pass 3 delivers. Pass 3 looks each key up again rather than trusting pass 2:
  // delivering frame i may insert or erase the entry frame j > i belongs to (a SYN reopening
  // TIME_WAIT, then a duplicate of it in the same burst); the second find is all hits.
  void input_burst(std::span<const RxFrame> frames) {
    constexpr std::size_t kChunk = 32;
    constexpr std::size_t kFrameAhead = 8;
    const auto prefetch_frame = [&](std::size_t i) {
      if (i < frames.size()) {
        const auto* p = frames[i].frame.data();
        __builtin_prefetch(p, 0, 3);
        __builtin_prefetch(p + 64, 0, 3);  // options and the first payload bytes
      }
    };
    for (std::size_t i = 0; i < kFrameAhead; ++i) prefetch_frame(i);
    std::array<std::optional<wire::SegmentView>, kChunk> views;
    std::array<std::uint64_t, kChunk> hashes{};
    for (std::size_t base = 0; base < frames.size(); base += kChunk) {
      const std::size_t n = std::min(kChunk, frames.size() - base);
      for (std::size_t i = 0; i < n; ++i) {
        prefetch_frame(base + i + kFrameAhead);
        views[i] = admit(frames[base + i].frame, frames[base + i].checked);
        if (views[i]) {
          hashes[i] = table.hash_of(key_of(*views[i]));
          table.prefetch(hashes[i]);
        }
      }
      for (std::size_t i = 0; i < n; ++i) {
        if (views[i]) prefetch_entry(table.peek_home(hashes[i]));
      }
      for (std::size_t i = 0; i < n; ++i) {
        if (!views[i]) continue;
        deliver(*views[i], table.find(key_of(*views[i]), hashes[i]));
      }
    }
  }

  // The lines a segment touches: a TIME_WAIT node (48 bytes, may straddle two lines) or a
  // whole connection slot (ConnEntry with its Connection: 13 adjacent lines).
  void prefetch_entry(const tcp::FlowHeader* h) const noexcept {
    if (h == nullptr) return;
    const auto* p = reinterpret_cast<const char*>(h);
    if (tw_pool.owns(h)) {
      __builtin_prefetch(p, 0, 3);
      __builtin_prefetch(p + sizeof(TwEntry) - 1, 0, 3);
      return;
    }
    for (std::size_t off = 0; off < sizeof(ConnEntry); off += 64) __builtin_prefetch(p + off, 0, 3);
  }

  void deliver(const wire::SegmentView& v, tcp::FlowHeader* h) {
    if (h != nullptr) {
      if (h->kind == flow::EntryKind::kTimeWait) {
        on_timewait_segment(*static_cast<TwEntry*>(h), v);
      } else {
        auto& e = *static_cast<ConnEntry*>(h);
        const tcp::Segment seg = tcp::from_view(v);
        with_conn(e, [&](tcp::Connection& c) {
          c.on_segment(seg, now);
          return 0;
        });
      }
      return;
    }
    const std::uint8_t syn_ack_rst =
        v.flags & (wire::tcp_flags::kSyn | wire::tcp_flags::kAck | wire::tcp_flags::kRst);
    if (syn_ack_rst == wire::tcp_flags::kSyn) {
      if (const Listener* l = find_listener(v.dst_port)) {
        const Listener copy = *l;
        passive_open(v, copy, 0, false);
        return;
      }
    }
    if (syn_ack_rst == wire::tcp_flags::kAck) {
      if (const Listener* l = find_listener(v.dst_port)) {
        const Listener copy = *l;
        if (open_from_cookie(v, copy)) return;
      }
    }
    ++ctr.InSegs;
    send_rst_for(v);
  }

  void advance() {
    conn_wheel.advance(now, [&](timer::Timer& t) {
      ConnEntry& e = timer::owner_of(t, &ConnEntry::timer);
      with_conn(e, [&](tcp::Connection& c) {
        c.on_timer(now);
        return 0;
      });
    });
    tw_pool.advance(now, tw_hooks);
  }

  ConnectResult connect(std::uint32_t raddr, std::uint16_t rport, ConnectOptions& o) {
    if (raddr == 0 || rport == 0) return {0, kEinval};
    auto probe = [&](const FlowKey& k, bool explicit_port) {
      // Several lcores on one port: a tuple whose answers RSS sends to another lcore's
      // queue is not ours to use.
      if (connect_steering &&
          !connect_steering(k.local_addr, k.local_port, k.remote_addr, k.remote_port)) {
        return ports::TupleState::kBusy;
      }
      auto* h = table.find(k);
      if (h == nullptr) return ports::TupleState::kFree;
      if (h->kind == flow::EntryKind::kTimeWait &&
          tw::tw_reuse_allowed(tw_state(*static_cast<TwEntry*>(h)), policy, now, explicit_port)) {
        return ports::TupleState::kTimeWaitReusable;
      }
      return ports::TupleState::kBusy;
    };
    ports::PortResult r =
        o.local_port != 0 ? ports.pick_explicit(FlowKey{id.addr, raddr, o.local_port, rport}, probe)
                          : ports.pick_ephemeral(id.addr, raddr, rport, probe, o.port_range);
    if (!r) return {0, kEaddrnotavail};
    const FlowKey k{id.addr, raddr, r.pick.port, rport};
    ConnEntry* e = alloc_conn(k);
    if (e == nullptr) {
      ++ext.TwtcpConnectNoBuffers;
      return {0, kEnobufs};
    }
    std::uint32_t iss = 0;
    if (r.pick.took_over_timewait) {
      auto* t = static_cast<TwEntry*>(table.find(k));
      // The SYN-ACK overwrites ts_recent in SYN-SENT, so only write_seq is observable here.
      iss = tw::reuse_inherit(tw_state(*t)).write_seq;
      if (!table.replace(t, e)) {
        free_conn(*e);
        ++ext.TwtcpConnectNoBuffers;
        return {0, kEnobufs};
      }
      free_tw(*t);
      ++ext.TWRecycled;
    } else if (table.insert(e) != flow::InsertResult::kInserted) {
      free_conn(*e);
      ++ext.TwtcpConnectNoBuffers;
      return {0, kEnobufs};
    } else {
      iss = isn_for(k);
    }
    e->cb = o.shared_callbacks != nullptr
                ? std::move(o.shared_callbacks)
                : std::make_shared<const Callbacks>(std::move(o.callbacks));
    const ConnId cid = make_id(*e);
    with_conn(*e, [&](tcp::Connection& c) {
      c.connect(iss, ts_offset_for(k), now);
      return 0;
    });
    return {cid, 0};
  }

  Config cfg;
  Identity id;
  Stack::ConnectSteering connect_steering;  // empty: every tuple is ours
  TxSink& tx;
  tcp::Params params;
  // tcp_challenge_ack_limit, shared by every connection (params points at it).
  tcp::ChallengeAckBudget challenge_budget;
  tw::TimeWaitPolicy policy;
  EffectivePolicy eff;
  tcp::Counters ctr;
  StackCounters ext;  // the counters lib/tcp does not keep
  tcp::OutQueue out;
  flow::FlowTable<FlowKey> table;
  // The table's QSBR domain with this stack as its only reader. Entries are freed at once
  // after erase: the only reader is this thread, which holds no entry pointer across an
  // input()/advance() call. A multi-lcore stack would retire them through flow::Limbo.
  flow::Domain epoch;
  flow::Reader reader;
  timer::TimerWheel conn_wheel;
  TwPool tw_pool;
  ports::PortAllocator ports;
  flow::PeerTable<> peers;
  std::vector<std::unique_ptr<ConnEntry>> conns;
  std::vector<std::uint32_t> conn_free;
  std::size_t conn_live = 0;
  std::vector<Listener> listeners;
  tcp::syncookie::Secret cookie_secret = cookie_secret_from(cfg.random_seed);
  ports::SipKey isn_key, ts_key;
  std::uint64_t now = 0;
  std::uint16_t ip_id = 0;
  std::unique_ptr<std::array<std::uint8_t, kTxBufSize>> txbuf;
  // What build_segment computes: the fields the sink's device does not fill.
  wire::Checksums tx_checksums{!tx.offloads().ipv4, !tx.offloads().tcp};
};

Stack::Stack(const Config& cfg, const Identity& id, TxSink& tx, std::uint64_t now_us)
    : impl_(std::make_unique<Impl>(cfg, id, tx, now_us)) {}

Stack::~Stack() {
  // Connections' timers must leave the wheel before the wheel goes.
  for (auto& e : impl_->conns) impl_->conn_wheel.cancel(e->timer);
}

void Stack::input(std::span<const std::uint8_t> frame, std::uint64_t now_us, RxChecksums checked) {
  impl_->now = std::max(impl_->now, now_us);
  impl_->reader.quiescent();
  impl_->input(frame, checked);
}

void Stack::input_burst(std::span<const RxFrame> frames, std::uint64_t now_us) {
  impl_->now = std::max(impl_->now, now_us);
  impl_->reader.quiescent();
  impl_->input_burst(frames);
}

void Stack::steer_connects(ConnectSteering steering) {
  impl_->connect_steering = std::move(steering);
}

void Stack::advance(std::uint64_t now_us) {
  impl_->now = std::max(impl_->now, now_us);
  impl_->reader.quiescent();
  impl_->advance();
}

std::uint64_t Stack::next_wakeup() const noexcept {
  return std::min(impl_->conn_wheel.next_expiry_hint(), impl_->tw_pool.next_expiry_us());
}

bool Stack::listen(std::uint16_t port, ListenerCallbacks callbacks) {
  if (port == 0 || impl_->find_listener(port) != nullptr) return false;
  if (impl_->listeners.size() >= static_cast<std::size_t>(impl_->cfg.max_listeners)) {
    ++impl_->ext.TwtcpListenLimit;
    return false;
  }
  impl_->listeners.push_back(
      Impl::Listener{port, std::make_shared<const Callbacks>(std::move(callbacks))});
  (void)impl_->ports.mark_bound(port);
  return true;
}

ConnectResult Stack::connect(std::uint32_t remote_addr, std::uint16_t remote_port,
                             ConnectOptions options) {
  return impl_->connect(remote_addr, remote_port, options);
}

std::size_t Stack::send(ConnId id, std::span<const std::uint8_t> data) {
  ConnEntry* e = impl_->lookup_id(id);
  if (e == nullptr) return 0;
  return impl_->with_conn(*e, [&](tcp::Connection& c) { return c.send(data, impl_->now); });
}

std::size_t Stack::recv(ConnId id, std::span<std::uint8_t> out) {
  ConnEntry* e = impl_->lookup_id(id);
  if (e == nullptr) return 0;
  return impl_->with_conn(*e, [&](tcp::Connection& c) { return c.recv(out, impl_->now); });
}

namespace {
template <class F>
bool call(Stack::Impl& im, ConnId id, F&& f) {
  ConnEntry* e = im.lookup_id(id);
  if (e == nullptr) return false;
  im.with_conn(*e, [&](tcp::Connection& c) {
    f(c);
    return 0;
  });
  return true;
}
}  // namespace

bool Stack::shutdown(ConnId id) {
  return call(*impl_, id, [&](tcp::Connection& c) { c.shutdown_write(impl_->now); });
}
bool Stack::close(ConnId id) {
  return call(*impl_, id, [&](tcp::Connection& c) { c.close(impl_->now); });
}
bool Stack::abort(ConnId id) {
  return call(*impl_, id, [&](tcp::Connection& c) { c.abort(impl_->now); });
}
bool Stack::close_linger0(ConnId id) {
  return call(*impl_, id, [&](tcp::Connection& c) { c.close_linger0(impl_->now); });
}

StackCounters Stack::counters() const {
  StackCounters s = impl_->ext;
  const tcp::Counters& c = impl_->ctr;
  s.ActiveOpens = c.ActiveOpens;
  s.PassiveOpens = c.PassiveOpens;
  s.AttemptFails = c.AttemptFails;
  s.EstabResets = c.EstabResets;
  s.InSegs = c.InSegs;
  s.OutSegs = c.OutSegs;
  s.RetransSegs = c.RetransSegs;
  s.OutRsts = c.OutRsts;
  s.PAWSEstab = c.PAWSEstab;
  s.PAWSActive += c.PAWSActive;
  s.TCPChallengeACK = c.TCPChallengeACK;
  s.TCPSYNChallenge = c.TCPSYNChallenge;
  s.TCPACKSkippedPAWS = c.TCPACKSkippedPAWS;
  s.TCPACKSkippedSeq = c.TCPACKSkippedSeq;
  s.TCPACKSkippedChallenge = c.TCPACKSkippedChallenge;
  s.TCPAbortOnData = c.TCPAbortOnData;
  s.TCPAbortOnClose = c.TCPAbortOnClose;
  s.TCPAbortOnTimeout = c.TCPAbortOnTimeout;
  s.TCPOFODrop = c.TCPOFODrop;
  s.TCPOFOQueue = c.TCPOFOQueue;
  s.TCPOFOMerge = c.TCPOFOMerge;
  s.TCPFastRetrans = c.TCPFastRetrans;
  s.TCPRenoRecovery = c.TCPRenoRecovery;
  s.TCPSackRecovery = c.TCPSackRecovery;
  s.TCPTimeouts = c.TCPTimeouts;
  s.TwtcpChallengeAckLimited = impl_->challenge_budget.skipped();
  s.TwtcpPeerEvictions = impl_->peers.evictions();
  s.CurrEstab = 0;
  for (const auto& e : impl_->conns) {
    if (e->live && (e->conn->state() == tcp::State::kEstablished ||
                    e->conn->state() == tcp::State::kCloseWait)) {
      ++s.CurrEstab;
    }
  }
  return s;
}

std::size_t Stack::timewait_count() const noexcept {
  return impl_->tw_pool.size();
}
std::size_t Stack::for_each_timewait(const std::function<void(const TimeWaitInfo&)>& fn,
                                     std::size_t max) const {
  const std::uint64_t now = impl_->now;
  return impl_->tw_pool.for_each(
      [&](const TwEntry& t, std::uint64_t deadline_us) {
        TimeWaitInfo i;
        i.local_addr = t.key.local_addr;
        i.remote_addr = t.key.remote_addr;
        i.local_port = t.key.local_port;
        i.remote_port = t.key.remote_port;
        i.expires_in_us = deadline_us > now ? deadline_us - now : 0;
        i.ts_recent = t.ts_recent;
        i.has_timestamps = t.ts_recent_stamp_s != 0;
        i.fin_wait2 = t.substate() == timewait::TwSubstate::kFinWait2;
        i.rcv_nxt = t.rcv_nxt;
        i.snd_nxt = t.snd_nxt;
        fn(i);
      },
      max);
}
std::size_t Stack::connection_count() const noexcept {
  return impl_->conn_live;
}

std::uint16_t Stack::local_port(ConnId id) const noexcept {
  const ConnEntry* e = impl_->lookup_id(id);
  return e == nullptr ? 0 : e->key.local_port;
}
std::uint32_t Stack::iss(ConnId id) const noexcept {
  const ConnEntry* e = impl_->lookup_id(id);
  return e == nullptr ? 0 : e->conn->tcb().iss;
}
std::uint32_t Stack::snd_nxt(ConnId id) const noexcept {
  const ConnEntry* e = impl_->lookup_id(id);
  return e == nullptr ? 0 : e->conn->tcb().snd_nxt;
}

double Stack::timewait_entry_bytes(const Config& cfg) noexcept {
  // Entry (the pool's free list and expiry queues live inside entries) + the flow table's
  // bytes per entry of capacity (buckets of 64 bytes, capacity * 10 / 49 of them).
  const double cap = cfg.flow_table_capacity > 0 ? cfg.flow_table_capacity : 1;
  const double buckets =
      std::max(1.0, static_cast<double>(static_cast<std::size_t>(cap) * 10 / 49));
  return static_cast<double>(sizeof(TwEntry)) + buckets * 64.0 / cap;
}

}  // namespace twtcp
