// lib/tcp/connection.hpp: one TCP connection's state machine (RFC 9293 §3.10), sans-IO.
//
// A Connection takes parsed segments, application calls and timer firings, each with the
// current time in microseconds, and answers by appending segments to a caller-provided
// fixed-capacity OutQueue and by raising event bits. It never reads a clock, never does I/O,
// and allocates only when it is built (its two byte rings).
//
// TIME_WAIT is not handled here: when the connection would enter it (FIN in FIN_WAIT2, our
// FIN ACKed in CLOSING, an orphan reaching FIN_WAIT2) it moves to State::kTimeWait, raises
// Event::kTimeWait and exposes timewait_request(), the input of timewait::timewait_enter().
// The stack then replaces the connection by a compact TIME_WAIT entry (lib/timewait).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "tcp/ring.hpp"
#include "timewait/enter.hpp"
#include "timewait/policy.hpp"
#include "twtcp/close_reason.hpp"
#include "twtcp/config.hpp"
#include "wire/segment.hpp"
#include "wire/tcp.hpp"

namespace twtcp::tcp {

enum class State : std::uint8_t {
  kClosed,
  kSynSent,
  kSynReceived,
  kEstablished,
  kFinWait1,
  kFinWait2,
  kCloseWait,
  kClosing,
  kLastAck,
  kTimeWait,  // terminal: handed off to lib/timewait (see timewait_request())
};
[[nodiscard]] std::string_view to_string(State s) noexcept;

namespace flags = wire::tcp_flags;

// One RFC 2018 SACK block: the peer holds [left, right).
struct SackBlock {
  std::uint32_t left = 0;
  std::uint32_t right = 0;
};

// The TCP options this layer reads and writes.
struct SegOptions {
  // At most 4 SACK blocks fit the 40-byte option space (3 next to timestamps).
  static constexpr std::size_t kMaxSackBlocks = 4;

  std::optional<std::uint16_t> mss;
  std::optional<std::uint8_t> wscale;  // raw; clamped to 14 when used
  bool sack_ok = false;
  bool has_ts = false;
  std::uint32_t tsval = 0;
  std::uint32_t tsecr = 0;
  std::uint8_t sack_count = 0;  // blocks in `sack`, the first one the most recent (RFC 2018)
  std::array<SackBlock, kMaxSackBlocks> sack{};
};

// An incoming segment, already parsed and checksummed. `payload` must stay valid for the
// duration of on_segment().
struct Segment {
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;  // raw (unscaled) header value
  SegOptions opts;
  std::span<const std::uint8_t> payload;

  [[nodiscard]] bool has(std::uint8_t f) const noexcept { return (flags & f) != 0; }
  [[nodiscard]] std::uint32_t seg_len() const noexcept {
    return static_cast<std::uint32_t>(payload.size()) + (has(flags::kSyn) ? 1u : 0u) +
           (has(flags::kFin) ? 1u : 0u);
  }
};

// wire::SegmentView -> Segment (the payload span points into the same frame).
[[nodiscard]] Segment from_view(const wire::SegmentView& v) noexcept;

// A segment to emit. Its payload is `payload_len` bytes of the connection's send stream
// starting at `seq`; copy them with Connection::copy_payload() before the connection
// processes its next ACK (acknowledged bytes leave the send buffer).
struct OutSegment {
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;  // header value, already scaled down
  SegOptions opts;
  std::uint32_t payload_len = 0;
};

// Caller-provided output queue. New data stops at a full queue (drain it, then call
// Connection::flush()); control segments that find it full are dropped, as a NIC TX drop
// would be, and counted in `dropped` (retransmission and the peer recover).
struct OutQueue {
  static constexpr std::size_t kCapacity = 64;
  std::array<OutSegment, kCapacity> segs{};
  std::size_t size = 0;
  std::uint64_t dropped = 0;

  bool push(const OutSegment& s) noexcept {
    if (size == kCapacity) {
      ++dropped;
      return false;
    }
    segs[size++] = s;
    return true;
  }
  void clear() noexcept { size = 0; }
  [[nodiscard]] std::span<const OutSegment> view() const noexcept { return {segs.data(), size}; }
};

// Event bits, accumulated until take_events().
namespace event {
inline constexpr std::uint8_t kConnected = 0x01;  // handshake completed
inline constexpr std::uint8_t kReadable = 0x02;   // new bytes in the receive buffer
inline constexpr std::uint8_t kWritable = 0x04;   // send buffer space was freed
inline constexpr std::uint8_t kPeerFin = 0x08;    // the peer closed its side (FIN in order)
inline constexpr std::uint8_t kClosed = 0x10;     // reached CLOSED; see close_reason()
inline constexpr std::uint8_t kTimeWait = 0x20;   // hand off: see timewait_request()
}  // namespace event

using CloseReason = ::twtcp::CloseReason;

// Linux SNMP/netstat counters a connection bumps (nstat names). Owned by the stack and
// shared by its connections; plain integers because a stack runs on one lcore.
struct Counters {
  std::uint64_t ActiveOpens = 0;
  std::uint64_t PassiveOpens = 0;
  std::uint64_t AttemptFails = 0;
  std::uint64_t EstabResets = 0;
  std::uint64_t InSegs = 0;
  std::uint64_t OutSegs = 0;
  std::uint64_t RetransSegs = 0;
  std::uint64_t OutRsts = 0;
  std::uint64_t PAWSEstab = 0;
  std::uint64_t PAWSActive = 0;  // SYN-ACK whose TSecr is not one of our SYN's timestamps
  std::uint64_t TCPChallengeACK = 0;
  std::uint64_t TCPSYNChallenge = 0;
  std::uint64_t TCPACKSkippedPAWS = 0;
  std::uint64_t TCPACKSkippedSeq = 0;
  std::uint64_t TCPACKSkippedChallenge = 0;
  std::uint64_t TCPAbortOnData = 0;
  std::uint64_t TCPAbortOnClose = 0;
  std::uint64_t TCPAbortOnTimeout = 0;
  std::uint64_t TCPOFODrop = 0;       // out-of-order data dropped: beyond the receive window
                                      // or the out-of-order intervals' capacity
  std::uint64_t TCPOFOQueue = 0;      // segments queued out of order
  std::uint64_t TCPOFOMerge = 0;      // out-of-order segments overlapping queued data
  std::uint64_t TCPFastRetrans = 0;   // fast retransmits (3 dup ACKs, NewReno partial ACKs)
  std::uint64_t TCPRenoRecovery = 0;  // fast recovery episodes without SACK
  std::uint64_t TCPSackRecovery = 0;  // fast recovery episodes with SACK negotiated
  std::uint64_t TCPTimeouts = 0;      // retransmission timeouts (not persist probes)
};

// Up to N disjoint, non-adjacent sequence ranges [start, end), kept sorted. Used for the
// received out-of-order intervals and for the peer's SACKed ranges of our send stream; all
// ranges of one set lie within one window (< 2^31), so circular comparisons order them.
template <std::size_t N>
struct SeqRanges {
  struct Range {
    std::uint32_t start = 0;
    std::uint32_t end = 0;
    std::uint32_t stamp = 0;  // insert() count when last extended: recency for SACK blocks
  };
  std::array<Range, N> r{};
  std::uint8_t count = 0;
  std::uint32_t clock = 0;

  struct Inserted {
    bool stored = false;   // false: no room for a new range, nothing changed
    bool overlap = false;  // [start, end) overlapped (not just touched) a stored range
  };
  // Adds [start, end), merging with every range it overlaps or touches.
  Inserted insert(std::uint32_t start, std::uint32_t end) noexcept;
  // Drops everything before `seq` (ranges that end at or before it; trims one that straddles).
  void trim_before(std::uint32_t seq) noexcept;
  // The end of the range holding `seq`, or `seq` itself when none does.
  [[nodiscard]] std::uint32_t end_of(std::uint32_t seq) const noexcept;
  // The start of the first range after `seq`, or `limit` when none starts before it.
  [[nodiscard]] std::uint32_t next_start(std::uint32_t seq, std::uint32_t limit) const noexcept;
  // Bytes the ranges hold before `seq`.
  [[nodiscard]] std::uint32_t covered_before(std::uint32_t seq) const noexcept;
  void pop_front() noexcept;
  void clear() noexcept { count = 0; }
};

// net.ipv4.tcp_challenge_ack_limit (RFC 5961 §7): challenge ACKs per second shared by all
// connections of one stack (Linux: one netns), checked after the connection's own
// tcp_invalid_ratelimit as tcp_send_challenge_ack() does. Seconds are now_us / 10^6 (Linux:
// jiffies / HZ). The budget of each second is the limit itself (3.x), or, randomised as
// since 4.7 (CVE-2016-5696: a fixed budget let an off-path attacker count challenge ACKs and
// infer a connection's sequence numbers), ceil(limit/2) + a uniform draw in [0, limit): on
// average `limit`, at most limit + ceil(limit/2) - 1 in one second. INT32_MAX means no limit
// (Linux >= 6.0 skips the budget then; before, it was simply never reached).
class ChallengeAckBudget {
 public:
  static constexpr std::int32_t kUnlimited = 2147483647;

  ChallengeAckBudget(std::int32_t limit_per_s, bool randomized, std::uint64_t seed) noexcept
      : limit_(limit_per_s < 0 ? 0 : limit_per_s), randomized_(randomized), rng_(seed) {}

  // Takes one challenge ACK from the budget of now_us's second; false (counted in skipped())
  // when it is spent.
  bool take(std::uint64_t now_us) noexcept;

  [[nodiscard]] std::int32_t limit() const noexcept { return limit_; }
  [[nodiscard]] std::uint64_t skipped() const noexcept { return skipped_; }

 private:
  std::int32_t limit_;
  bool randomized_;
  std::uint64_t rng_;                  // SplitMix64 state
  std::uint64_t second_ = UINT64_MAX;  // the second `left_` belongs to
  std::uint32_t left_ = 0;
  std::uint64_t skipped_ = 0;
};

// Everything a connection reads from the Config, resolved once per stack (the Config itself
// holds vectors; connections keep a pointer to this instead).
struct Params {
  // An unacceptable ACK in SYN-SENT (a stale connection's ACK, a TIME_WAIT's old ACK) makes
  // the first SYN retransmission come after TCP_TIMEOUT_MIN (2 ms) instead of the RTO, as
  // Linux has done since 2020 (models 6.6 and 6.18): the RST we answer with has probably
  // cleared the way.
  bool quick_syn_retry = true;
  // An RST at the right edge of the highest SACK block we hold is exact (Linux >= 2016).
  bool rst_at_sack_edge = true;
  std::uint64_t rto_min_us = 200'000;
  std::uint64_t rto_max_us = 120'000'000;
  std::uint64_t rto_initial_us = 1'000'000;
  std::uint64_t delayed_ack_us = 40'000;  // 0 = ACK every segment at once
  std::uint64_t invalid_ratelimit_us = 500'000;
  std::uint16_t mss = 1460;
  std::int32_t syn_retries = 6;
  std::int32_t synack_retries = 5;
  std::int32_t retries2 = 15;
  std::int32_t orphan_retries = 0;  // 0 = 8 (tcp_orphan_retries(): peer recently alive)
  std::int32_t timestamps = 1;      // net.ipv4.tcp_timestamps 0/1/2
  bool window_scaling = true;
  bool sack = true;
  std::uint32_t rcvbuf = 131072;  // tcp_rmem default
  std::uint32_t sndbuf = 16384;   // tcp_wmem default
  // tcp_wmem max: the send buffer grows towards it while the application keeps it full and
  // the congestion window outgrows it (tcp_sndbuf_expand). 0 or <= sndbuf: fixed size.
  std::uint32_t sndbuf_max = 0;
  std::uint64_t fin_timeout_us = 60'000'000;
  timewait::TimeWaitPolicy paws;  // paws_wrap_s, paws_msl_s, paws_window
  // The stack-wide challenge-ACK budget (owned by the Stack, which sets this); null: only
  // the per-connection tcp_invalid_ratelimit applies.
  ChallengeAckBudget* challenge_budget = nullptr;
};
[[nodiscard]] Params params_from_config(const Config& cfg);

// The connection's current sequence variables (RFC 9293 names), for tests and tracing.
struct Tcb {
  std::uint32_t iss = 0, snd_una = 0, snd_nxt = 0, snd_max = 0, snd_wnd = 0;
  std::uint32_t snd_wl1 = 0, snd_wl2 = 0;
  std::uint32_t irs = 0, rcv_nxt = 0, rcv_adv = 0, rcv_wup = 0;
  std::uint8_t snd_wscale = 0, rcv_wscale = 0;
  std::uint16_t peer_mss = 536;
  bool wscale_ok = false, sack_ok = false, ts_ok = false;
  std::uint32_t ts_recent = 0, ts_recent_stamp_s = 0, ts_offset = 0;
};

class Connection {
 public:
  // `params`, `counters` and `out` must outlive the connection. Buffer sizes default to
  // params.sndbuf / params.rcvbuf.
  Connection(const Params& params, Counters& counters, OutQueue& out, std::uint32_t sndbuf = 0,
             std::uint32_t rcvbuf = 0);
  // With borrowed buffer storage (the Stack's pooled slot keeps it between connections):
  // the ring capacities are the spans' sizes.
  Connection(const Params& params, Counters& counters, OutQueue& out,
             std::span<std::uint8_t> snd_storage, std::span<std::uint8_t> rcv_storage);

  // --- opening ---
  // Active open: send a SYN with our options. `ts_offset` is the TS offset the stack chose
  // (0 when tcp_timestamps = 2 or the model has none).
  void connect(std::uint32_t iss, std::uint32_t ts_offset, std::uint64_t now_us);
  // Passive open: the stack's listener got `syn` and made this connection for it; answer
  // with a SYN-ACK. Returns false (and stays CLOSED) if `syn` is not a SYN without ACK/RST.
  bool accept_syn(const Segment& syn, std::uint32_t iss, std::uint32_t ts_offset,
                  std::uint64_t now_us);
  // Passive open from a SYN cookie (lib/tcp/syncookie.hpp): the listener answered the SYN
  // statelessly and `ack` returns the cookie `iss`; `syn_opts` are the SYN's options the
  // cookie carried (mss, wscale, sack_ok, has_ts with tsval = the ACK's). Enters
  // SYN-RECEIVED as if our SYN-ACK had been sent and processes `ack` (normally: ESTABLISHED,
  // kConnected). Returns false (and stays CLOSED) if `ack` is not an ACK without SYN/RST.
  bool accept_cookie_ack(const Segment& ack, std::uint32_t iss, const SegOptions& syn_opts,
                         std::uint32_t ts_offset, std::uint64_t now_us);

  // --- input ---
  void on_segment(const Segment& seg, std::uint64_t now_us);
  // Fires every timer due at now_us (RTO / SYN / persist, delayed ACK).
  void on_timer(std::uint64_t now_us);
  // Earliest armed deadline, or UINT64_MAX when nothing is armed.
  [[nodiscard]] std::uint64_t next_deadline() const noexcept;

  // --- application ---
  // Queues as much as fits in the send buffer and sends what the windows allow. 0 after
  // shutdown_write() or when not open for sending.
  std::size_t send(std::span<const std::uint8_t> data, std::uint64_t now_us);
  // Sends what the windows allow and the output queue had no room for before. Call after
  // draining a full OutQueue.
  void flush(std::uint64_t now_us);
  // Reads in-order bytes; may send a window update.
  std::size_t recv(std::span<std::uint8_t> out, std::uint64_t now_us);
  // FIN after the queued data (shutdown(SHUT_WR)).
  void shutdown_write(std::uint64_t now_us);
  // close(): unread data → RST + TCPAbortOnClose; otherwise FIN and the connection becomes
  // an orphan (tcp_orphan_retries; FIN_WAIT2 hands off at once as the FIN_WAIT2 substate).
  void close(std::uint64_t now_us);
  // SO_LINGER {1, 0} then close(): RST, no FIN, no TIME_WAIT, TCPAbortOnData.
  void close_linger0(std::uint64_t now_us);
  // Reset the connection (RST if synchronized).
  void abort(std::uint64_t now_us);

  // --- coalescing ---
  // Between hold_output() and release_output(), new data and FINs wait in the send buffer and
  // the ACK owed for received data (or a window update) waits too; release_output() sends them
  // in as few segments as the windows allow, the ACK riding on the first. The Stack holds
  // output while it processes a segment and runs the application's callbacks, so a response
  // and a close() written in a callback leave as one segment that also acknowledges the
  // request. Duplicate, challenge and out-of-window ACKs, RSTs and SYNs are never held.
  void hold_output() noexcept { output_held_ = true; }
  [[nodiscard]] bool output_held() const noexcept { return output_held_; }
  void release_output(std::uint64_t now_us);

  // --- observation ---
  [[nodiscard]] State state() const noexcept { return state_; }
  [[nodiscard]] const Tcb& tcb() const noexcept { return tcb_; }
  [[nodiscard]] std::uint8_t take_events() noexcept {
    const std::uint8_t e = events_;
    events_ = 0;
    return e;
  }
  [[nodiscard]] std::uint8_t events() const noexcept { return events_; }
  [[nodiscard]] CloseReason close_reason() const noexcept { return close_reason_; }
  [[nodiscard]] std::size_t readable() const noexcept { return rcvbuf_.size(); }
  [[nodiscard]] std::size_t send_space() const noexcept { return sndbuf_.free(); }
  [[nodiscard]] std::size_t unacked_bytes() const noexcept { return sndbuf_.size(); }
  [[nodiscard]] bool orphan() const noexcept { return orphan_; }
  [[nodiscard]] std::uint64_t rto_us() const noexcept;
  [[nodiscard]] std::uint32_t retransmits() const noexcept { return retries_; }
  [[nodiscard]] std::uint16_t effective_mss() const noexcept { return eff_mss_; }
  [[nodiscard]] std::uint32_t cwnd() const noexcept { return cwnd_; }
  [[nodiscard]] std::uint32_t ssthresh() const noexcept { return ssthresh_; }
  [[nodiscard]] bool in_fast_recovery() const noexcept { return in_recovery_; }
  // Out-of-order intervals held beyond rcv_nxt (at most kOfoRanges).
  [[nodiscard]] std::size_t ofo_ranges() const noexcept { return ofo_.count; }
  static constexpr std::size_t kOfoRanges = 16;

  // Copies `seg`'s payload (see OutSegment); returns bytes copied, 0 if they are gone.
  std::size_t copy_payload(const OutSegment& seg, std::span<std::uint8_t> out) const noexcept;

  // Valid once state() == kTimeWait: the TwEnterRequest fields this connection owns (conn,
  // state, timeo_us, rto_us). The stack fills recycle_ok and live_tw_count.
  [[nodiscard]] const timewait::TwEnterRequest& timewait_request() const noexcept {
    return tw_request_;
  }

 private:
  void init_after_buffers();
  std::uint32_t syn_tsval_ = 0;  // TSval of our first SYN (PAWSActive window start)
  bool synchronized() const noexcept;
  void set_state(State s) noexcept;
  void to_closed(CloseReason why, bool count_attempt = true) noexcept;
  void enter_timewait(timewait::TwSubstate sub, std::uint64_t now_us) noexcept;

  void syn_sent_input(const Segment& seg, std::uint64_t now_us);
  void synchronized_input(const Segment& seg, std::uint64_t now_us, bool ack_now);
  bool paws_ok(const Segment& seg, std::uint64_t now_us);
  bool disordered_ack(const Segment& seg) const noexcept;
  bool seq_acceptable(std::uint32_t seq, std::uint32_t len) const noexcept;
  bool process_ack(const Segment& seg, std::uint64_t now_us);
  void update_ts_recent(const Segment& seg, std::uint64_t now_us) noexcept;
  void queue_out_of_order(std::uint32_t seq, std::span<const std::uint8_t> data, bool fin);
  void take_in_order_ofo() noexcept;
  void note_sack_blocks(const SegOptions& o) noexcept;
  void enter_recovery(std::uint64_t now_us);
  void retransmit_head(std::uint64_t now_us);
  void fill_sack_blocks(SegOptions& o, std::uint32_t payload_len) const noexcept;
  void negotiate(const SegOptions& o, bool we_offered) noexcept;

  // Output helpers.
  void emit(std::uint32_t seq, std::uint8_t fl, std::uint32_t len, std::uint64_t now_us,
            bool syn_opts = false);
  void send_ack(std::uint64_t now_us);
  void send_syn(std::uint64_t now_us);
  void send_rst(std::uint64_t now_us);
  void send_rst_reply(const Segment& seg);
  bool ratelimited_ack(std::uint64_t now_us, std::uint64_t& skipped, const Segment* seg = nullptr);
  void challenge_ack(std::uint64_t now_us);
  void output(std::uint64_t now_us);
  void ack_received_data(std::uint64_t now_us, bool force);
  void ack_soon(std::uint64_t now_us);  // send_ack(), or owe it while output is held
  void on_timer_unheld(std::uint64_t now_us);
  std::uint16_t window_field(bool syn) noexcept;
  std::uint32_t data_end_seq() const noexcept {
    return sndbuf_seq_ + static_cast<std::uint32_t>(sndbuf_.size());
  }
  bool fin_acked() const noexcept;
  [[nodiscard]] bool rst_at_sack_edge(std::uint32_t seq) const noexcept;
  void maybe_expand_sndbuf();
  void arm_rto(std::uint64_t now_us) noexcept;
  void on_rto(std::uint64_t now_us);
  void rtt_sample(std::uint64_t rtt_us) noexcept;
  void ts_rtt_sample(std::uint32_t tsecr, std::uint64_t now_us) noexcept;
  std::int32_t retry_limit() const noexcept;

  const Params* p_;
  Counters* ctr_;
  OutQueue* out_;
  ByteRing sndbuf_;
  ByteRing rcvbuf_;
  Tcb tcb_;
  State state_ = State::kClosed;
  bool passive_ = false;
  bool fin_queued_ = false;  // shutdown_write() was called: FIN follows the data
  bool orphan_ = false;
  bool fin_received_ = false;
  std::uint8_t events_ = 0;
  CloseReason close_reason_ = CloseReason::kNone;
  std::uint16_t eff_mss_ = 536;
  std::uint32_t sndbuf_seq_ = 0;  // sequence number of sndbuf_'s first byte
  bool sndbuf_limited_ = false;   // the last send() left the send buffer full
  std::uint32_t cwnd_ = 0;
  std::uint32_t ssthresh_ = 0xffffffffu;
  std::uint32_t max_wnd_ = 0;

  // Loss recovery (RFC 5681 fast retransmit, RFC 6582 NewReno). recover_ is one past the
  // highest sequence sent when recovery (or the last RTO) began.
  std::uint32_t recover_ = 0;
  std::uint32_t dupacks_ = 0;
  std::uint32_t flight_at_dup_ = 0;  // FlightSize at the first dup ACK: what limited
                                     // transmit sent afterwards does not count (RFC 5681)
  bool in_recovery_ = false;
  // The peer's SACKed ranges above snd_una: retransmissions skip them.
  SeqRanges<8> sacked_;

  // Out-of-order receive: payload sits in rcvbuf_ at its offset beyond rcv_nxt; these ranges
  // say which bytes are there. A FIN seen beyond a hole waits in ofo_fin_seq_.
  SeqRanges<kOfoRanges> ofo_;
  bool ofo_fin_ = false;
  std::uint32_t ofo_fin_seq_ = 0;

  // Timers (0 = not armed).
  std::uint64_t rto_deadline_ = 0;
  std::uint64_t delack_deadline_ = 0;
  std::uint32_t retries_ = 0;  // consecutive RTO firings (icsk_retransmits)
  std::uint8_t backoff_ = 0;
  bool probing_ = false;          // rto timer is the zero-window persist timer
  std::uint32_t probes_out_ = 0;  // zero-window probes sent without any ACK since
  std::uint64_t srtt_us_ = 0, rttvar_us_ = 0, base_rto_us_ = 0;
  bool rtt_timing_ = false;
  std::uint32_t rtt_seq_ = 0;
  std::uint64_t rtt_start_us_ = 0;
  std::uint32_t unacked_rcv_ = 0;  // bytes received since our last ACK
  bool output_held_ = false;       // see hold_output()
  bool ack_owed_ = false;          // an ACK was due while output was held
  std::uint64_t last_oow_ack_us_ = 0;
  bool oow_acked_ = false;

  timewait::TwEnterRequest tw_request_{};
};

}  // namespace twtcp::tcp
