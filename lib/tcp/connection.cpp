// lib/tcp/connection.cpp: see connection.hpp. Section numbers refer to RFC 9293 §3.10.7.
#include "tcp/connection.hpp"

#include <algorithm>
#include <limits>
#include <utility>

#include "timewait/paws.hpp"
#include "timewait/types.hpp"
#include "wire/seq.hpp"
#include "wire/tcp.hpp"

namespace twtcp::tcp {

using wire::seq_after;
using wire::seq_after_eq;
using wire::seq_before;
using wire::seq_before_eq;

namespace {
constexpr std::uint64_t kNever = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint8_t kMaxWscale = 14;
constexpr std::uint32_t kTsOptLen = 12;  // NOP NOP TS(10): what each data segment loses

std::uint32_t ts_now(std::uint64_t now_us, std::uint32_t offset) noexcept {
  return timewait::ts_clock_ms(now_us) + offset;
}
}  // namespace

std::string_view to_string(State s) noexcept {
  switch (s) {
    case State::kClosed:
      return "CLOSED";
    case State::kSynSent:
      return "SYN-SENT";
    case State::kSynReceived:
      return "SYN-RECEIVED";
    case State::kEstablished:
      return "ESTABLISHED";
    case State::kFinWait1:
      return "FIN-WAIT-1";
    case State::kFinWait2:
      return "FIN-WAIT-2";
    case State::kCloseWait:
      return "CLOSE-WAIT";
    case State::kClosing:
      return "CLOSING";
    case State::kLastAck:
      return "LAST-ACK";
    case State::kTimeWait:
      return "TIME-WAIT";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// SeqRanges

template <std::size_t N>
typename SeqRanges<N>::Inserted SeqRanges<N>::insert(std::uint32_t start,
                                                     std::uint32_t end) noexcept {
  Inserted res;
  std::size_t i = 0;
  while (i < count && seq_before(r[i].end, start)) ++i;  // wholly before, not touching
  std::size_t j = i;
  std::uint32_t lo = start, hi = end;
  while (j < count && seq_before_eq(r[j].start, end)) {
    res.overlap |= seq_before(r[j].start, end) && seq_after(r[j].end, start);
    if (seq_before(r[j].start, lo)) lo = r[j].start;
    if (seq_after(r[j].end, hi)) hi = r[j].end;
    ++j;
  }
  const std::size_t merged = j - i;
  if (merged == 0) {
    if (count == N) return res;
    for (std::size_t k = count; k > i; --k) r[k] = r[k - 1];
    ++count;
  } else {
    for (std::size_t k = j; k < count; ++k) r[i + 1 + (k - j)] = r[k];
    count = static_cast<std::uint8_t>(count - (merged - 1));
  }
  r[i] = Range{lo, hi, ++clock};
  res.stored = true;
  return res;
}

template <std::size_t N>
void SeqRanges<N>::trim_before(std::uint32_t seq) noexcept {
  while (count && seq_before_eq(r[0].end, seq)) pop_front();
  if (count && seq_before(r[0].start, seq)) r[0].start = seq;
}

template <std::size_t N>
std::uint32_t SeqRanges<N>::end_of(std::uint32_t seq) const noexcept {
  for (std::size_t k = 0; k < count; ++k) {
    if (seq_after(r[k].start, seq)) break;
    if (seq_before(seq, r[k].end)) return r[k].end;
  }
  return seq;
}

template <std::size_t N>
std::uint32_t SeqRanges<N>::next_start(std::uint32_t seq, std::uint32_t limit) const noexcept {
  for (std::size_t k = 0; k < count; ++k) {
    if (seq_after(r[k].start, seq)) return seq_before(r[k].start, limit) ? r[k].start : limit;
  }
  return limit;
}

template <std::size_t N>
std::uint32_t SeqRanges<N>::covered_before(std::uint32_t seq) const noexcept {
  std::uint32_t n = 0;
  for (std::size_t k = 0; k < count && seq_before(r[k].start, seq); ++k) {
    n += (seq_before(r[k].end, seq) ? r[k].end : seq) - r[k].start;
  }
  return n;
}

template <std::size_t N>
void SeqRanges<N>::pop_front() noexcept {
  for (std::size_t k = 1; k < count; ++k) r[k - 1] = r[k];
  --count;
}

template struct SeqRanges<8>;
template struct SeqRanges<Connection::kOfoRanges>;

Segment from_view(const wire::SegmentView& v) noexcept {
  Segment s;
  s.seq = v.seq;
  s.ack = v.ack;
  s.flags = v.flags;
  s.window = v.window;
  s.opts.mss = v.options.mss;
  s.opts.wscale = v.options.wscale;
  s.opts.sack_ok = v.options.sack_permitted;
  if (v.options.ts) {
    s.opts.has_ts = true;
    s.opts.tsval = v.options.ts->tsval;
    s.opts.tsecr = v.options.ts->tsecr;
  }
  static_assert(wire::TcpOptions::kMaxSackBlocks <= SegOptions::kMaxSackBlocks);
  s.opts.sack_count = v.options.sack_count;
  for (std::size_t b = 0; b < v.options.sack_count; ++b) {
    s.opts.sack[b] = SackBlock{v.options.sack[b].left, v.options.sack[b].right};
  }
  s.payload = v.payload;
  return s;
}

Params params_from_config(const Config& cfg) {
  Params p;
  p.rto_min_us = std::uint64_t(cfg.rto_min_ms) * 1000;
  p.rto_max_us = std::uint64_t(cfg.rto_max_ms) * 1000;
  p.rto_initial_us = std::uint64_t(cfg.rto_initial_ms) * 1000;
  p.delayed_ack_us = std::uint64_t(cfg.delayed_ack_ms) * 1000;
  p.invalid_ratelimit_us = std::uint64_t(cfg.tcp_invalid_ratelimit) * 1000;
  p.mss = static_cast<std::uint16_t>(cfg.mss);
  p.syn_retries = cfg.tcp_syn_retries;
  p.synack_retries = cfg.tcp_synack_retries;
  p.retries2 = cfg.tcp_retries2;
  p.orphan_retries = cfg.tcp_orphan_retries;
  p.timestamps = cfg.tcp_timestamps;
  p.window_scaling = cfg.tcp_window_scaling;
  p.sack = cfg.tcp_sack;
  p.rcvbuf = static_cast<std::uint32_t>(cfg.tcp_rmem.def);
  p.sndbuf = static_cast<std::uint32_t>(cfg.tcp_wmem.def);
  p.sndbuf_max = static_cast<std::uint32_t>(cfg.tcp_wmem.max);
  p.fin_timeout_us = std::uint64_t(cfg.tcp_fin_timeout) * 1'000'000;
  p.paws = timewait::policy_from_config(cfg);
  p.quick_syn_retry = cfg.kernel_model >= KernelModel::V6_6;
  p.rst_at_sack_edge = cfg.kernel_model >= KernelModel::V4_19;
  return p;
}

Connection::Connection(const Params& params, Counters& counters, OutQueue& out,
                       std::uint32_t sndbuf, std::uint32_t rcvbuf)
    : p_(&params),
      ctr_(&counters),
      out_(&out),
      sndbuf_(sndbuf ? sndbuf : std::max<std::uint32_t>(params.sndbuf, 1)),
      rcvbuf_(rcvbuf ? rcvbuf : std::max<std::uint32_t>(params.rcvbuf, 1)) {
  init_after_buffers();
}

Connection::Connection(const Params& params, Counters& counters, OutQueue& out,
                       std::span<std::uint8_t> snd_storage, std::span<std::uint8_t> rcv_storage)
    : p_(&params), ctr_(&counters), out_(&out), sndbuf_(snd_storage), rcvbuf_(rcv_storage) {
  init_after_buffers();
}

void Connection::init_after_buffers() {
  base_rto_us_ = p_->rto_initial_us;
  // Smallest shift that lets the whole receive buffer be advertised (tcp_select_initial_window).
  if (p_->window_scaling) {
    std::uint8_t ws = 0;
    while (ws < kMaxWscale && (rcvbuf_.capacity() >> ws) > 65535) ++ws;
    tcb_.rcv_wscale = ws;
  }
}

// ---------------------------------------------------------------------------------------------
// State bookkeeping

bool Connection::synchronized() const noexcept {
  return state_ != State::kClosed && state_ != State::kSynSent && state_ != State::kTimeWait;
}

void Connection::set_state(State s) noexcept {
  // tcp_set_state(): leaving ESTABLISHED/CLOSE_WAIT straight for CLOSED is a reset.
  if (s == State::kClosed && (state_ == State::kEstablished || state_ == State::kCloseWait)) {
    ++ctr_->EstabResets;
  }
  if (s == State::kEstablished && state_ == State::kSynReceived && passive_) ++ctr_->PassiveOpens;
  state_ = s;
}

void Connection::to_closed(CloseReason why, bool count_attempt) noexcept {
  // tcp_done(): an open attempt that dies counts as AttemptFails.
  if (count_attempt && (state_ == State::kSynSent || state_ == State::kSynReceived)) {
    ++ctr_->AttemptFails;
  }
  set_state(State::kClosed);
  close_reason_ = why;
  events_ |= event::kClosed;
  rto_deadline_ = delack_deadline_ = 0;
}

void Connection::enter_timewait(timewait::TwSubstate sub, std::uint64_t now_us) noexcept {
  (void)now_us;
  auto& c = tw_request_.conn;
  c.rcv_nxt = tcb_.rcv_nxt;
  c.snd_nxt = tcb_.snd_max;
  c.rcv_wnd = tcb_.rcv_adv - tcb_.rcv_nxt;
  c.ts_recent = tcb_.ts_ok ? tcb_.ts_recent : 0;
  c.ts_recent_stamp_s = tcb_.ts_ok ? std::max<std::uint32_t>(tcb_.ts_recent_stamp_s, 1) : 0;
  c.ts_offset = tcb_.ts_offset;
  c.rcv_wscale = tcb_.wscale_ok ? tcb_.rcv_wscale : 0;
  tw_request_.state = sub;
  tw_request_.rto_us = rto_us();
  tw_request_.timeo_us = sub == timewait::TwSubstate::kFinWait2 ? p_->fin_timeout_us : 0;
  state_ = State::kTimeWait;
  events_ |= event::kTimeWait;
  rto_deadline_ = delack_deadline_ = 0;
}

// ---------------------------------------------------------------------------------------------
// Opening

void Connection::negotiate(const SegOptions& o, bool we_offered) noexcept {
  tcb_.peer_mss = o.mss ? std::max<std::uint16_t>(*o.mss, 88) : 536;
  tcb_.wscale_ok = we_offered && p_->window_scaling && o.wscale.has_value();
  if (tcb_.wscale_ok) {
    tcb_.snd_wscale = std::min<std::uint8_t>(*o.wscale, kMaxWscale);
  } else {
    tcb_.snd_wscale = 0;
    tcb_.rcv_wscale = 0;
  }
  tcb_.sack_ok = we_offered && p_->sack && o.sack_ok;
  tcb_.ts_ok = we_offered && p_->timestamps != 0 && o.has_ts;
  std::uint32_t mss = std::min<std::uint32_t>(p_->mss, tcb_.peer_mss);
  if (tcb_.ts_ok) mss -= kTsOptLen;
  eff_mss_ = static_cast<std::uint16_t>(std::max<std::uint32_t>(mss, 64));
  cwnd_ = 10u * eff_mss_;  // RFC 6928 initial window
}

void Connection::connect(std::uint32_t iss, std::uint32_t ts_offset, std::uint64_t now_us) {
  if (state_ != State::kClosed) return;
  tcb_.iss = iss;
  tcb_.snd_una = iss;
  tcb_.snd_nxt = tcb_.snd_max = iss + 1;
  recover_ = iss;
  tcb_.ts_offset = ts_offset;
  sndbuf_seq_ = iss + 1;
  passive_ = false;
  state_ = State::kSynSent;
  ++ctr_->ActiveOpens;
  syn_tsval_ = ts_now(now_us, tcb_.ts_offset);
  send_syn(now_us);
  arm_rto(now_us);
}

bool Connection::accept_syn(const Segment& syn, std::uint32_t iss, std::uint32_t ts_offset,
                            std::uint64_t now_us) {
  if (state_ != State::kClosed || !syn.has(flags::kSyn) || syn.has(flags::kAck | flags::kRst)) {
    return false;
  }
  ++ctr_->InSegs;
  passive_ = true;
  tcb_.iss = iss;
  tcb_.snd_una = iss;
  tcb_.snd_nxt = tcb_.snd_max = iss + 1;
  recover_ = iss;
  tcb_.ts_offset = ts_offset;
  sndbuf_seq_ = iss + 1;
  tcb_.irs = syn.seq;
  tcb_.rcv_nxt = tcb_.rcv_wup = syn.seq + 1;
  tcb_.rcv_adv = tcb_.rcv_nxt + std::min<std::uint32_t>(rcvbuf_.free(), 65535);
  negotiate(syn.opts, true);
  if (tcb_.ts_ok) {
    tcb_.ts_recent = syn.opts.tsval;
    tcb_.ts_recent_stamp_s = timewait::stamp_s(now_us);
  }
  // The SYN's window is never scaled (RFC 7323 §2.2).
  tcb_.snd_wnd = syn.window;
  tcb_.snd_wl1 = syn.seq;
  tcb_.snd_wl2 = iss;
  max_wnd_ = tcb_.snd_wnd;
  state_ = State::kSynReceived;
  send_syn(now_us);
  arm_rto(now_us);
  return true;
}

bool Connection::accept_cookie_ack(const Segment& ack, std::uint32_t iss,
                                   const SegOptions& syn_opts, std::uint32_t ts_offset,
                                   std::uint64_t now_us) {
  if (state_ != State::kClosed || !ack.has(flags::kAck) || ack.has(flags::kSyn | flags::kRst)) {
    return false;
  }
  passive_ = true;
  tcb_.iss = iss;
  tcb_.snd_una = iss;
  tcb_.snd_nxt = tcb_.snd_max = iss + 1;
  recover_ = iss;
  tcb_.ts_offset = ts_offset;
  sndbuf_seq_ = iss + 1;
  tcb_.irs = ack.seq - 1;
  tcb_.rcv_nxt = tcb_.rcv_wup = ack.seq;
  // What the SYN-ACK advertised: the same unscaled window accept_syn() gives.
  tcb_.rcv_adv = tcb_.rcv_nxt + std::min<std::uint32_t>(rcvbuf_.free(), 65535);
  negotiate(syn_opts, true);
  if (tcb_.ts_ok) {
    tcb_.ts_recent = syn_opts.tsval;
    tcb_.ts_recent_stamp_s = timewait::stamp_s(now_us);
  }
  tcb_.snd_wl1 = tcb_.irs;
  tcb_.snd_wl2 = iss;
  state_ = State::kSynReceived;
  on_segment(ack, now_us);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Input

void Connection::on_segment(const Segment& seg, std::uint64_t now_us) {
  ++ctr_->InSegs;
  switch (state_) {
    case State::kTimeWait:
      return;  // the stack routes TIME_WAIT segments to lib/timewait
    case State::kClosed:
      if (!seg.has(flags::kRst)) send_rst_reply(seg);
      return;
    case State::kSynSent:
      syn_sent_input(seg, now_us);
      return;
    default:
      break;
  }
  // §6.1 PAWS (tcp_validate_incoming), before the sequence check.
  if (!paws_ok(seg, now_us)) return;

  // RFC 5961 §3: RST.
  if (seg.has(flags::kRst)) {
    const bool exact =
        seg.seq == tcb_.rcv_nxt ||
        (seg.seq == tcb_.rcv_nxt - 1 &&
         (state_ == State::kCloseWait || state_ == State::kLastAck || state_ == State::kClosing)) ||
        rst_at_sack_edge(seg.seq);
    if (exact) {
      to_closed(state_ == State::kSynReceived && !passive_ ? CloseReason::kRefused
                                                           : CloseReason::kPeerReset);
    } else if (seq_acceptable(seg.seq, 0)) {
      challenge_ack(now_us);
    }
    return;
  }

  bool ack_now = false;
  if (state_ == State::kSynReceived && seg.has(flags::kSyn) && seg.seq == tcb_.irs) {
    if (!seg.has(flags::kAck)) {
      // A retransmitted SYN: our SYN-ACK was lost, send it again.
      send_syn(now_us);
      return;
    }
    // Simultaneous open: the peer's SYN-ACK. Its SYN is the one we already have; take the
    // rest as a plain ACK (any data on it is dropped and will be retransmitted).
    Segment plain = seg;
    plain.flags = static_cast<std::uint8_t>(seg.flags & ~(flags::kSyn | flags::kFin));
    plain.seq = seg.seq + 1;
    plain.payload = {};
    return synchronized_input(plain, now_us, true);
  }

  // RFC 5961 §4: SYN in a synchronized state, in window or not (Linux syn_challenge).
  if (seg.has(flags::kSyn)) {
    ++ctr_->TCPSYNChallenge;
    challenge_ack(now_us);
    return;
  }
  synchronized_input(seg, now_us, ack_now);
}

void Connection::synchronized_input(const Segment& seg, std::uint64_t now_us, bool ack_now) {
  const std::uint32_t len = static_cast<std::uint32_t>(seg.payload.size());
  // §3.10.7.4 first check: acceptability.
  if (!seq_acceptable(seg.seq, seg.seg_len())) {
    if (ratelimited_ack(now_us, ctr_->TCPACKSkippedSeq, &seg)) send_ack(now_us);
    return;
  }
  if (!seg.has(flags::kAck)) return;

  update_ts_recent(seg, now_us);

  if (state_ == State::kSynReceived) {
    if (!seq_after(seg.ack, tcb_.snd_una) || seq_after(seg.ack, tcb_.snd_max)) {
      send_rst_reply(seg);
      return;
    }
    tcb_.snd_una = seg.ack;
    tcb_.snd_wnd = std::uint32_t(seg.window) << tcb_.snd_wscale;
    tcb_.snd_wl1 = seg.seq;
    tcb_.snd_wl2 = seg.ack;
    max_wnd_ = std::max(max_wnd_, tcb_.snd_wnd);
    if (retries_ == 0 && rtt_timing_) rtt_sample(now_us - rtt_start_us_);
    rtt_timing_ = false;
    retries_ = 0;
    backoff_ = 0;
    rto_deadline_ = 0;
    set_state(fin_queued_ ? State::kFinWait1 : State::kEstablished);
    if (state_ == State::kFinWait1 && passive_) ++ctr_->PassiveOpens;
    events_ |= event::kConnected | event::kWritable;
  }
  if (!process_ack(seg, now_us)) return;
  if (state_ == State::kClosed || state_ == State::kTimeWait) return;

  // New data for an orphan (close() shut the read side) in FIN_WAIT1/2: RFC 1122 says reset,
  // and Linux does (tcp_rcv_state_process: TCPAbortOnData, then an RST). Queuing it would
  // leave a peer retransmitting into a buffer nobody reads.
  if (orphan_ && (state_ == State::kFinWait1 || state_ == State::kFinWait2) &&
      !seg.payload.empty() &&
      seq_after(seg.seq + static_cast<std::uint32_t>(seg.payload.size()), tcb_.rcv_nxt)) {
    ++ctr_->TCPAbortOnData;
    send_rst(now_us);
    to_closed(CloseReason::kLocalReset);
    return;
  }

  // §3.10.7.4 seventh: segment text, in order only.
  std::uint32_t seq = seg.seq;
  std::span<const std::uint8_t> data = seg.payload;
  bool fin = seg.has(flags::kFin);
  const bool can_receive =
      state_ == State::kEstablished || state_ == State::kFinWait1 || state_ == State::kFinWait2;
  if (seq_before(seq, tcb_.rcv_nxt)) {  // trim the front already received
    const std::uint32_t skip = std::min<std::uint32_t>(tcb_.rcv_nxt - seq, len);
    data = data.subspan(skip);
    seq += skip;
    if (seq_before(seq, tcb_.rcv_nxt)) fin = false;  // the FIN itself is a duplicate
    ack_now = true;
  }
  if (seq != tcb_.rcv_nxt) {
    // Out of order: keep it beyond rcv_nxt and answer at once with a duplicate ACK (RFC 5681
    // §4.2), which carries SACK blocks when they were negotiated.
    if (!data.empty() || fin) {
      if (can_receive && !fin_received_) queue_out_of_order(seq, data, fin);
      send_ack(now_us);
    }
    output(now_us);
    return;
  }
  if (!data.empty() && can_receive && !fin_received_) {
    const std::uint32_t room = tcb_.rcv_adv - tcb_.rcv_nxt;  // trim to the advertised window
    if (data.size() > room) {
      data = data.first(room);
      fin = false;
      ack_now = true;
    }
    const std::size_t n = rcvbuf_.write(data);
    tcb_.rcv_nxt += static_cast<std::uint32_t>(n);
    unacked_rcv_ += static_cast<std::uint32_t>(n);
    if (n) events_ |= event::kReadable;
    if (n && (ofo_.count || ofo_fin_)) {
      // The segment filled (part of) a hole: ACK at once (RFC 5681 §4.2) so the sender's
      // recovery learns of it, taking in whatever out-of-order bytes are now contiguous.
      take_in_order_ofo();
      ack_now = true;
    }
  } else if (!data.empty()) {
    data = {};  // data after the peer's FIN, or in CLOSE_WAIT/LAST_ACK/CLOSING: ignore
  }

  // §3.10.7.4 eighth: FIN, this segment's or one that arrived beyond a hole now filled.
  const bool fin_here =
      (fin && seq + data.size() == tcb_.rcv_nxt) || (ofo_fin_ && ofo_fin_seq_ == tcb_.rcv_nxt);
  if (fin_here && !fin_received_) {
    ofo_fin_ = false;
    fin_received_ = true;
    tcb_.rcv_nxt += 1;
    events_ |= event::kPeerFin;
    switch (state_) {
      case State::kSynReceived:
      case State::kEstablished:
        set_state(State::kCloseWait);
        break;
      case State::kFinWait1:
        set_state(State::kClosing);  // our FIN is not ACKed yet (else we'd be in FIN_WAIT2)
        break;
      case State::kFinWait2:
        send_ack(now_us);  // ACK the FIN, then hand off (tcp_fin -> tcp_time_wait)
        enter_timewait(timewait::TwSubstate::kTimeWait, now_us);
        return;
      default:
        break;
    }
    ack_now = true;
  }
  ack_received_data(now_us, ack_now);
  output(now_us);
}

void Connection::syn_sent_input(const Segment& seg, std::uint64_t now_us) {
  if (seg.has(flags::kAck)) {
    if (seq_before_eq(seg.ack, tcb_.iss) || seq_after(seg.ack, tcb_.snd_max)) {
      if (!seg.has(flags::kRst)) {
        send_rst_reply(seg);
        if (p_->quick_syn_retry && retries_ == 0) rto_deadline_ = now_us + 2'000;
      }
      return;
    }
    // PAWS for the active open (tcp_rcv_synsent_state_process): the SYN-ACK must echo a
    // timestamp we sent between our first SYN and now, else it answers some older SYN.
    if (p_->timestamps != 0 && seg.opts.has_ts && seg.opts.tsecr != 0 &&
        seg.opts.tsecr - syn_tsval_ > ts_now(now_us, tcb_.ts_offset) - syn_tsval_) {
      ++ctr_->PAWSActive;
      if (!seg.has(flags::kRst)) send_rst_reply(seg);
      return;
    }
  }
  if (seg.has(flags::kRst)) {
    if (seg.has(flags::kAck)) to_closed(CloseReason::kRefused);
    return;
  }
  if (!seg.has(flags::kSyn)) return;

  tcb_.irs = seg.seq;
  tcb_.rcv_nxt = tcb_.rcv_wup = seg.seq + 1;
  tcb_.rcv_adv = tcb_.rcv_nxt + std::min<std::uint32_t>(rcvbuf_.free(), 65535);
  negotiate(seg.opts, true);
  if (tcb_.ts_ok) {
    tcb_.ts_recent = seg.opts.tsval;
    tcb_.ts_recent_stamp_s = timewait::stamp_s(now_us);
  }
  tcb_.snd_wnd = seg.window;  // unscaled in a SYN
  tcb_.snd_wl1 = seg.seq;
  tcb_.snd_wl2 = seg.ack;
  max_wnd_ = tcb_.snd_wnd;
  if (seg.has(flags::kAck)) {
    // SYN-ACK: established. An RTT sample from the SYN if it was not retransmitted.
    tcb_.snd_una = seg.ack;
    if (retries_ == 0) {
      if (tcb_.ts_ok && seg.opts.tsecr) {
        ts_rtt_sample(seg.opts.tsecr, now_us);
      } else if (rtt_timing_) {
        rtt_sample(now_us - rtt_start_us_);
      }
    }
    rtt_timing_ = false;
    retries_ = 0;
    backoff_ = 0;
    rto_deadline_ = 0;
    set_state(fin_queued_ ? State::kFinWait1 : State::kEstablished);
    events_ |= event::kConnected | event::kWritable;
    ack_soon(now_us);  // rides on the request when on_connected writes one
    output(now_us);
  } else {
    // Simultaneous open: SYN-ACK with our original ISN, wait for its ACK.
    state_ = State::kSynReceived;
    send_syn(now_us);
    arm_rto(now_us);
  }
}

bool Connection::paws_ok(const Segment& seg, std::uint64_t now_us) {
  if (!tcb_.ts_ok || !seg.opts.has_ts) return true;
  if (timewait::paws_check(tcb_.ts_recent, tcb_.ts_recent_stamp_s, seg.opts.tsval,
                           static_cast<std::int32_t>(p_->paws.paws_window), now_us, p_->paws)) {
    return true;
  }
  if (disordered_ack(seg)) return true;
  if (seg.has(flags::kRst)) return true;  // RSTs face the RFC 5961 checks instead
  if (seg.has(flags::kSyn)) {
    ++ctr_->TCPSYNChallenge;
    challenge_ack(now_us);
    return false;
  }
  ++ctr_->PAWSEstab;
  if (ratelimited_ack(now_us, ctr_->TCPACKSkippedPAWS, &seg)) send_ack(now_us);
  return false;
}

// tcp_disordered_ack(): a pure duplicate ACK that may carry an older TSval because it was
// reordered with a data segment; acceptable if the TS is within one RTO's worth of ticks.
bool Connection::disordered_ack(const Segment& seg) const noexcept {
  if (seg.flags != flags::kAck || !seg.payload.empty()) return false;
  if (seg.seq != tcb_.rcv_nxt || seg.ack != tcb_.snd_una) return false;
  if ((std::uint32_t(seg.window) << tcb_.snd_wscale) != tcb_.snd_wnd) return false;
  const std::int64_t replay_ms = static_cast<std::int64_t>(rto_us() / 1000);
  return wire::ts_diff(tcb_.ts_recent, seg.opts.tsval) <= replay_ms;
}

// The RFC 9293 acceptability table against the window we advertised.
bool Connection::seq_acceptable(std::uint32_t seq, std::uint32_t len) const noexcept {
  const std::uint32_t wnd = tcb_.rcv_adv - tcb_.rcv_nxt;
  const std::uint32_t nxt = tcb_.rcv_nxt;
  if (len == 0) {
    if (wnd == 0) return seq == nxt;
    return seq_after_eq(seq, nxt) && seq_before(seq, nxt + wnd);
  }
  if (wnd == 0) {
    // Linux still takes a FIN or an ACK carrying data at rcv_nxt; keep the ACK/FIN part.
    return seq == nxt;
  }
  const std::uint32_t last = seq + len - 1;
  return (seq_after_eq(seq, nxt) && seq_before(seq, nxt + wnd)) ||
         (seq_after_eq(last, nxt) && seq_before(last, nxt + wnd));
}

void Connection::update_ts_recent(const Segment& seg, std::uint64_t now_us) noexcept {
  // tcp_replace_ts_recent(): only a segment covering rcv_wup may move ts_recent, so a
  // delayed old segment cannot pull it back.
  if (!tcb_.ts_ok || !seg.opts.has_ts) return;
  if (seq_after(seg.seq, tcb_.rcv_wup)) return;
  if (timewait::paws_check(tcb_.ts_recent, tcb_.ts_recent_stamp_s, seg.opts.tsval, 0, now_us,
                           p_->paws)) {
    tcb_.ts_recent = seg.opts.tsval;
    tcb_.ts_recent_stamp_s = timewait::stamp_s(now_us);
  }
}

// Stores out-of-order payload in rcvbuf_ at its offset beyond rcv_nxt (tcp_data_queue_ofo()).
// `seq` is after rcv_nxt. Kept only if it fits both the window we advertised and the interval
// set; anything else is dropped and counted, and the sender retransmits it.
void Connection::queue_out_of_order(std::uint32_t seq, std::span<const std::uint8_t> data,
                                    bool fin) {
  const std::uint32_t offset = seq - tcb_.rcv_nxt;
  std::uint32_t room = std::min<std::uint32_t>(tcb_.rcv_adv - tcb_.rcv_nxt,
                                               static_cast<std::uint32_t>(rcvbuf_.free()));
  if (ofo_fin_) {
    // Nothing exists beyond the peer's FIN; a segment claiming otherwise is cut there.
    room = std::min(room, ofo_fin_seq_ - tcb_.rcv_nxt);
    fin = false;
  }
  if (offset + data.size() > room) {
    ++ctr_->TCPOFODrop;
    if (offset >= room) return;
    data = data.first(room - offset);
    fin = false;
  }
  if (!data.empty()) {
    const auto end = seq + static_cast<std::uint32_t>(data.size());
    const auto ins = ofo_.insert(seq, end);
    if (!ins.stored) {
      ++ctr_->TCPOFODrop;
      return;
    }
    rcvbuf_.write_at(offset, data);
    ++ctr_->TCPOFOQueue;
    if (ins.overlap) ++ctr_->TCPOFOMerge;
  }
  if (fin) {
    ofo_fin_ = true;
    ofo_fin_seq_ = seq + static_cast<std::uint32_t>(data.size());
  }
}

// Moves rcv_nxt over the out-of-order intervals it has reached (tcp_ofo_queue()).
void Connection::take_in_order_ofo() noexcept {
  while (ofo_.count && seq_before_eq(ofo_.r[0].start, tcb_.rcv_nxt)) {
    const std::uint32_t end = ofo_.r[0].end;
    if (seq_after(end, tcb_.rcv_nxt)) {
      const std::uint32_t n = end - tcb_.rcv_nxt;
      rcvbuf_.commit(n);
      tcb_.rcv_nxt = end;
      unacked_rcv_ += n;
      events_ |= event::kReadable;
    }
    ofo_.pop_front();
  }
}

// SACK blocks for an ACK we send (RFC 2018 §4): the interval holding the latest out-of-order
// segment first, then the others by recency, as many as the option space leaves room for.
void Connection::fill_sack_blocks(SegOptions& o, std::uint32_t payload_len) const noexcept {
  o.sack_count = 0;
  if (!tcb_.sack_ok || ofo_.count == 0) return;
  // 40 option bytes, less 12 for timestamps; a block list costs 2 + 8 per block. On a data
  // segment the options also come out of the MSS, so only what the payload leaves is used.
  std::uint32_t space = tcb_.ts_ok ? 40u - kTsOptLen : 40u;
  if (payload_len) space = std::min<std::uint32_t>(space, eff_mss_ - payload_len);
  if (space < 10) return;
  const std::size_t max_blocks = std::min<std::size_t>((space - 2) / 8, SegOptions::kMaxSackBlocks);
  std::uint32_t taken = 0;  // bit per interval already listed
  for (std::size_t b = 0; b < max_blocks && b < ofo_.count; ++b) {
    std::size_t best = ofo_.count;
    for (std::size_t k = 0; k < ofo_.count; ++k) {
      if (taken & (1u << k)) continue;
      if (best == ofo_.count || ofo_.r[k].stamp - ofo_.r[best].stamp < 0x80000000u) best = k;
    }
    taken |= 1u << best;
    o.sack[b] = SackBlock{ofo_.r[best].start, ofo_.r[best].end};
    o.sack_count = static_cast<std::uint8_t>(b + 1);
  }
}

// Records the peer's SACK blocks that describe our outstanding data (RFC 2018 §5); bogus or
// stale blocks are ignored.
void Connection::note_sack_blocks(const SegOptions& o) noexcept {
  if (!tcb_.sack_ok) return;
  for (std::size_t b = 0; b < o.sack_count && b < SegOptions::kMaxSackBlocks; ++b) {
    const SackBlock& blk = o.sack[b];
    if (!seq_before(blk.left, blk.right)) continue;
    if (!seq_after(blk.left, tcb_.snd_una) || seq_after(blk.right, tcb_.snd_max)) continue;
    (void)sacked_.insert(blk.left, blk.right);  // a full scoreboard only forgets detail
  }
}

// Linux since 2016 (between our 4.4 and 4.19 models) also takes an RST whose sequence is the
// right edge of the highest SACK block as exact: a peer that sent data beyond a hole and then
// reset numbers its RST after that data, which we hold out of order; rcv_nxt never matches it.
bool Connection::rst_at_sack_edge(std::uint32_t seq) const noexcept {
  if (!p_->rst_at_sack_edge || !tcb_.sack_ok || ofo_.count == 0) return false;
  std::uint32_t right = ofo_.r[0].end;
  for (std::size_t k = 1; k < ofo_.count; ++k) {
    if (seq_after(ofo_.r[k].end, right)) right = ofo_.r[k].end;
  }
  return seq == right;
}

// Send-buffer autotuning as Linux's tcp_sndbuf_expand(): room for two congestion windows
// (one in flight, one queued so the window can double in slow start, or cover fast
// recovery), in powers of two up to tcp_wmem's max, and only while the application is
// writing more than the buffer holds: a request-response connection never grows. Counted in
// payload bytes where Linux counts skb truesize, so the same max holds about twice the data.
// Allocates at most log2(max / default) times in a connection's life (8 from 16 KiB to
// 4 MiB); the buffer goes back to the connection slot's own when the connection ends.
void Connection::maybe_expand_sndbuf() {
  if (!sndbuf_limited_ || sndbuf_.capacity() >= p_->sndbuf_max) return;
  // The window in flight is the smaller of cwnd and the peer's window: a receiver-limited
  // connection (whose cwnd keeps growing on every ACK) gains nothing from a bigger buffer.
  const std::uint32_t window = std::min(cwnd_, std::max(max_wnd_, tcb_.snd_wnd));
  const std::size_t want = 2 * std::size_t{std::max<std::uint32_t>(window, 10u * eff_mss_)};
  if (want <= sndbuf_.capacity()) return;
  std::size_t capacity = std::max<std::size_t>(sndbuf_.capacity(), 1);
  while (capacity < want) capacity *= 2;
  sndbuf_.grow(std::min<std::size_t>(capacity, p_->sndbuf_max));
  sndbuf_limited_ = false;
  events_ |= event::kWritable;
}

bool Connection::fin_acked() const noexcept {
  return fin_queued_ && seq_after(tcb_.snd_una, data_end_seq());
}

// §3.10.7.4 fifth: the ACK field. Returns false when the segment must be dropped.
bool Connection::process_ack(const Segment& seg, std::uint64_t now_us) {
  if (seq_after(seg.ack, tcb_.snd_max)) {
    // ACKs something not yet sent: answer with our state (RFC 9293) and drop.
    if (ratelimited_ack(now_us, ctr_->TCPACKSkippedSeq, &seg)) send_ack(now_us);
    return false;
  }
  if (seq_before(seg.ack, tcb_.snd_una - max_wnd_)) {
    // RFC 5961 §5.2: older than anything the peer could have seen: blind injection.
    challenge_ack(now_us);
    return false;
  }
  // RFC 5681 §2 duplicate ACK: data outstanding, nothing new acknowledged, no data, no
  // SYN/FIN, same window. Judged before this segment updates the window.
  const bool dup_ack = seg.ack == tcb_.snd_una && tcb_.snd_una != tcb_.snd_max &&
                       seg.payload.empty() && !seg.has(flags::kSyn | flags::kFin) &&
                       (std::uint32_t(seg.window) << tcb_.snd_wscale) == tcb_.snd_wnd;
  probes_out_ = 0;  // tcp_ack(): any acceptable ACK shows the peer alive
  note_sack_blocks(seg.opts);
  if (dup_ack && !probing_ && synchronized()) {
    if (in_recovery_) {
      cwnd_ += eff_mss_;  // inflation: a segment has left the network
    } else if (++dupacks_ == 1) {
      flight_at_dup_ = tcb_.snd_max - tcb_.snd_una;
    } else if (dupacks_ == 3 && seq_after_eq(seg.ack, recover_)) {
      // RFC 6582 §3.2 step 2: dup ACKs caused by an RTO's go-back-N (ack below recover_)
      // do not start another recovery.
      enter_recovery(now_us);
    }
  }
  if (seq_after(seg.ack, tcb_.snd_una)) {
    const std::uint32_t acked = seg.ack - tcb_.snd_una;
    dupacks_ = 0;
    // RTT: the echoed TS when there is one (RFC 7323 §4), else Karn's single timed segment.
    if (tcb_.ts_ok && seg.opts.has_ts && seg.opts.tsecr && retries_ == 0) {
      ts_rtt_sample(seg.opts.tsecr, now_us);
    } else if (rtt_timing_ && seq_after(seg.ack, rtt_seq_)) {
      rtt_sample(now_us - rtt_start_us_);
    }
    if (rtt_timing_ && seq_after(seg.ack, rtt_seq_)) rtt_timing_ = false;
    const std::uint32_t data_acked =
        std::min<std::uint32_t>(seg.ack - sndbuf_seq_, static_cast<std::uint32_t>(sndbuf_.size()));
    if (seq_after(seg.ack, sndbuf_seq_)) {
      sndbuf_.consume(data_acked);
      sndbuf_seq_ += data_acked;
      if (data_acked) events_ |= event::kWritable;
    }
    tcb_.snd_una = seg.ack;
    if (seq_before(tcb_.snd_nxt, tcb_.snd_una)) tcb_.snd_nxt = tcb_.snd_una;
    sacked_.trim_before(tcb_.snd_una);
    if (sacked_.count && sacked_.r[0].start == tcb_.snd_una) {
      // A receiver holding snd_una's bytes would have ACKed past them: it reneged on its
      // SACKs (RFC 2018 §8), so forget them rather than skip data it no longer has.
      sacked_.clear();
    }
    if (in_recovery_ && seq_after_eq(seg.ack, recover_)) {
      // Full ACK: everything outstanding at the loss is in; deflate (RFC 6582 §3.2 step 3).
      in_recovery_ = false;
      cwnd_ = ssthresh_;
    } else if (in_recovery_) {
      // Partial ACK: the next hole was lost too. Resend it at once, deflate by what was
      // acknowledged, add back one segment if a full one left, and stay in recovery.
      retransmit_head(now_us);
      cwnd_ = cwnd_ > acked ? cwnd_ - acked : 0;
      if (acked >= eff_mss_) cwnd_ += eff_mss_;
      cwnd_ = std::max<std::uint32_t>(cwnd_, eff_mss_);
    } else if (cwnd_ < ssthresh_) {
      cwnd_ += std::min<std::uint32_t>(acked, eff_mss_);  // slow start
    } else {
      cwnd_ += std::max<std::uint32_t>(1, std::uint32_t(eff_mss_) * eff_mss_ / cwnd_);
    }
    maybe_expand_sndbuf();
    retries_ = 0;
    backoff_ = 0;
    probing_ = false;
    if (tcb_.snd_una == tcb_.snd_max) {
      rto_deadline_ = 0;
    } else {
      arm_rto(now_us);
    }
  }
  // Window update (RFC 9293 SND.WL1/WL2 rule).
  if (seq_before(tcb_.snd_wl1, seg.seq) ||
      (tcb_.snd_wl1 == seg.seq && seq_before_eq(tcb_.snd_wl2, seg.ack))) {
    tcb_.snd_wnd = std::uint32_t(seg.window) << tcb_.snd_wscale;
    tcb_.snd_wl1 = seg.seq;
    tcb_.snd_wl2 = seg.ack;
    max_wnd_ = std::max(max_wnd_, tcb_.snd_wnd);
  }

  switch (state_) {
    case State::kFinWait1:
      if (fin_acked()) {
        set_state(State::kFinWait2);
        if (!orphan_) break;
        if (seg.seg_len() != 0 &&
            seq_after(seg.seq + static_cast<std::uint32_t>(seg.payload.size()), tcb_.rcv_nxt)) {
          // Data, or a FIN beyond a hole, for an orphan: nobody will read it, and a FIN past a
          // hole would leave it in FIN_WAIT2 with no timer, answering the peer's
          // retransmissions for ever (found by fuzz_stack). Linux (tcp_rcv_state_process,
          // "out of order FIN after close()"): tcp_done, TCPAbortOnData, an RST.
          ++ctr_->TCPAbortOnData;
          send_rst(now_us);
          to_closed(CloseReason::kLocalReset);
        } else if (!seg.has(flags::kFin)) {
          // An orphan in FIN_WAIT2 lives on as a TIME_WAIT entry in its FIN_WAIT2 substate
          // (SPEC §2.1); fin_wait2_orphan_plan() tells the stack for how long. An in-order
          // FIN is processed below and moves it to TIME_WAIT.
          enter_timewait(timewait::TwSubstate::kFinWait2, now_us);
        }
      }
      break;
    case State::kClosing:
      if (fin_acked()) {
        enter_timewait(timewait::TwSubstate::kTimeWait, now_us);
      }
      break;
    case State::kLastAck:
      if (fin_acked()) to_closed(CloseReason::kNormal);
      break;
    default:
      break;
  }
  return true;
}

// RFC 5681 §3.2 fast retransmit on the third duplicate ACK, then NewReno fast recovery.
void Connection::enter_recovery(std::uint64_t now_us) {
  ssthresh_ = std::max<std::uint32_t>(flight_at_dup_ / 2, 2u * eff_mss_);
  recover_ = tcb_.snd_max;
  in_recovery_ = true;
  ++(tcb_.sack_ok ? ctr_->TCPSackRecovery : ctr_->TCPRenoRecovery);
  retransmit_head(now_us);
  cwnd_ = ssthresh_ + 3u * eff_mss_;
}

// Resends one segment from snd_una (with the FIN if it is the last), leaving snd_nxt alone.
void Connection::retransmit_head(std::uint64_t now_us) {
  const std::uint32_t end = data_end_seq();
  const std::uint32_t una = tcb_.snd_una;
  const std::uint32_t avail = seq_before(una, end) ? end - una : 0;
  const std::uint32_t len =
      std::min<std::uint32_t>({avail, eff_mss_, sacked_.next_start(una, una + eff_mss_) - una});
  const bool fin = fin_queued_ && una + len == end && seq_after(tcb_.snd_max, end);
  if (len == 0 && !fin) return;
  std::uint8_t fl = flags::kAck;
  if (fin) fl |= flags::kFin;
  if (len && una + len == end) fl |= flags::kPsh;
  ++ctr_->TCPFastRetrans;
  ++ctr_->RetransSegs;
  // Karn: the timed segment's ACK would now be ambiguous.
  if (rtt_timing_ && seq_before(rtt_seq_, una + len + (fin ? 1u : 0u))) rtt_timing_ = false;
  emit(una, fl, len, now_us);
  arm_rto(now_us);
}

// ---------------------------------------------------------------------------------------------
// Output

std::uint16_t Connection::window_field(bool syn) noexcept {
  // Advertise the free receive space, never moving the right edge left.
  std::uint32_t wnd = static_cast<std::uint32_t>(rcvbuf_.free());
  if (syn || state_ == State::kSynSent) {
    // A SYN's window is never scaled; rcv_adv was set when the peer's SYN arrived.
    return static_cast<std::uint16_t>(std::min<std::uint32_t>(wnd, 65535));
  }
  std::uint32_t field = std::min<std::uint32_t>(wnd >> tcb_.rcv_wscale, 65535);
  const std::uint32_t right = tcb_.rcv_nxt + (field << tcb_.rcv_wscale);
  if (seq_after(right, tcb_.rcv_adv)) tcb_.rcv_adv = right;
  field = (tcb_.rcv_adv - tcb_.rcv_nxt) >> tcb_.rcv_wscale;
  return static_cast<std::uint16_t>(std::min<std::uint32_t>(field, 65535));
}

void Connection::emit(std::uint32_t seq, std::uint8_t fl, std::uint32_t len, std::uint64_t now_us,
                      bool syn_opts) {
  OutSegment s;
  s.seq = seq;
  s.flags = fl;
  s.payload_len = len;
  if (fl & flags::kAck) {
    s.ack = tcb_.rcv_nxt;
    tcb_.rcv_wup = tcb_.rcv_nxt;
    unacked_rcv_ = 0;
    delack_deadline_ = 0;
    ack_owed_ = false;
  }
  s.window = (fl & flags::kRst) ? 0 : window_field((fl & flags::kSyn) != 0);
  if (syn_opts) {
    s.opts.mss = p_->mss;
    const bool offer = state_ == State::kSynSent;  // SYN: offer; SYN-ACK: answer
    if (offer ? p_->window_scaling : tcb_.wscale_ok) s.opts.wscale = tcb_.rcv_wscale;
    s.opts.sack_ok = offer ? p_->sack : tcb_.sack_ok;
    s.opts.has_ts = offer ? p_->timestamps != 0 : tcb_.ts_ok;
  } else {
    s.opts.has_ts = tcb_.ts_ok;
    if ((fl & flags::kAck) && !(fl & flags::kRst)) fill_sack_blocks(s.opts, len);
  }
  if (s.opts.has_ts) {
    s.opts.tsval = ts_now(now_us, tcb_.ts_offset);
    s.opts.tsecr = (state_ == State::kSynSent && !(fl & flags::kAck)) ? 0 : tcb_.ts_recent;
  }
  if (fl & flags::kRst) ++ctr_->OutRsts;
  ++ctr_->OutSegs;
  out_->push(s);
}

void Connection::send_syn(std::uint64_t now_us) {
  const bool synack = state_ == State::kSynReceived;
  emit(tcb_.iss, synack ? (flags::kSyn | flags::kAck) : flags::kSyn, 0, now_us, true);
  if (retries_ == 0 && !rtt_timing_) {
    rtt_timing_ = true;
    rtt_seq_ = tcb_.iss;
    rtt_start_us_ = now_us;
  }
}

// Segments without data carry the highest sequence sent, not snd_nxt: after an RTO snd_nxt
// is rewound to resend from snd_una, and an ACK numbered below the peer's rcv_nxt is out of
// its window and dropped unread. With both sides in RTO at once, each dropped the other's
// ACKs and the connection died of retransmission timeouts (found by 1 GB at 5 % loss).
// Linux never rewinds snd_nxt, so its ACKs carry the same number (tcp_acceptable_seq()).
void Connection::send_ack(std::uint64_t now_us) {
  emit(tcb_.snd_max, flags::kAck, 0, now_us);
}

void Connection::ack_soon(std::uint64_t now_us) {
  if (output_held_) {
    ack_owed_ = true;
  } else {
    send_ack(now_us);
  }
}

void Connection::release_output(std::uint64_t now_us) {
  output_held_ = false;
  output(now_us);
  if (ack_owed_ && state_ != State::kClosed) send_ack(now_us);
  ack_owed_ = false;
}

void Connection::send_rst(std::uint64_t now_us) {
  emit(tcb_.snd_max, flags::kRst | flags::kAck, 0, now_us);
}

// RFC 9293 reset generation for a segment that does not belong to this connection's state.
void Connection::send_rst_reply(const Segment& seg) {
  OutSegment s;
  if (seg.has(flags::kAck)) {
    s.seq = seg.ack;
    s.flags = flags::kRst;
  } else {
    s.seq = 0;
    s.ack = seg.seq + seg.seg_len();
    s.flags = flags::kRst | flags::kAck;
  }
  ++ctr_->OutRsts;
  ++ctr_->OutSegs;
  out_->push(s);
}

// tcp_oow_rate_limited(): at most one ACK per tcp_invalid_ratelimit for invalid segments.
// Segments carrying data (and no SYN) are always answered: they are not part of an ACK loop.
bool Connection::ratelimited_ack(std::uint64_t now_us, std::uint64_t& skipped, const Segment* seg) {
  if (seg && !seg->payload.empty() && !seg->has(flags::kSyn)) return true;
  if (p_->invalid_ratelimit_us && oow_acked_ &&
      now_us - last_oow_ack_us_ < p_->invalid_ratelimit_us) {
    ++skipped;
    return false;
  }
  oow_acked_ = true;
  last_oow_ack_us_ = now_us;
  return true;
}

bool ChallengeAckBudget::take(std::uint64_t now_us) noexcept {
  if (limit_ == kUnlimited) return true;
  const std::uint64_t second = now_us / 1'000'000;
  if (second != second_) {
    second_ = second;
    const auto limit = static_cast<std::uint32_t>(limit_);
    if (randomized_ && limit != 0) {
      rng_ += 0x9e3779b97f4a7c15ULL;  // SplitMix64
      std::uint64_t z = rng_;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      z ^= z >> 31;
      left_ = (limit + 1) / 2 + static_cast<std::uint32_t>(((z >> 32) * limit) >> 32);
    } else {
      left_ = limit;
    }
  }
  if (left_ == 0) {
    ++skipped_;
    return false;
  }
  --left_;
  return true;
}

void Connection::challenge_ack(std::uint64_t now_us) {
  if (!ratelimited_ack(now_us, ctr_->TCPACKSkippedChallenge)) return;
  if (p_->challenge_budget != nullptr && !p_->challenge_budget->take(now_us)) return;
  ++ctr_->TCPChallengeACK;
  send_ack(now_us);
}

void Connection::ack_received_data(std::uint64_t now_us, bool force) {
  if (force || p_->delayed_ack_us == 0 || unacked_rcv_ >= 2u * eff_mss_) {
    if (unacked_rcv_ || force) ack_soon(now_us);
    return;
  }
  if (unacked_rcv_ && !delack_deadline_) delack_deadline_ = now_us + p_->delayed_ack_us;
}

// Sends new data (and the FIN) as far as the peer's window and cwnd allow.
void Connection::output(std::uint64_t now_us) {
  if (output_held_) return;  // release_output() calls again
  if (state_ == State::kClosed || state_ == State::kSynSent || state_ == State::kSynReceived ||
      state_ == State::kTimeWait) {
    return;
  }
  const std::uint32_t end = data_end_seq();
  for (;;) {
    const bool retrans = seq_before(tcb_.snd_nxt, tcb_.snd_max);
    if (retrans && sacked_.count) {
      // Going back over sent data (after an RTO): the peer already holds what it SACKed.
      const std::uint32_t skip_to = sacked_.end_of(tcb_.snd_nxt);
      if (skip_to != tcb_.snd_nxt) {
        tcb_.snd_nxt = seq_before(skip_to, tcb_.snd_max) ? skip_to : tcb_.snd_max;
        continue;
      }
    }
    // Outside fast recovery, what the peer SACKed has left the network (RFC 6675's pipe);
    // inside it, Reno's cwnd inflation already counts those segments.
    std::uint32_t in_flight = tcb_.snd_nxt - tcb_.snd_una;
    std::uint32_t limited = 0;
    if (!in_recovery_ && sacked_.count) {
      in_flight -= sacked_.covered_before(tcb_.snd_nxt);
    } else if (!in_recovery_) {
      // RFC 3042 limited transmit: without SACK, the first two dup ACKs each let one new
      // segment out, so a small window still gathers the three fast retransmit needs.
      limited = std::min<std::uint32_t>(dupacks_, 2) * eff_mss_;
    }
    const std::uint32_t wnd = std::min(tcb_.snd_wnd, cwnd_ + limited);
    const std::uint32_t unsent = seq_before(tcb_.snd_nxt, end) ? end - tcb_.snd_nxt : 0;
    const bool fin_due = fin_queued_ && seq_before_eq(tcb_.snd_nxt, end);
    if (unsent == 0 && !fin_due) break;
    const std::uint32_t room = wnd > in_flight ? wnd - in_flight : 0;
    // A retransmission stops where SACKed data begins: a hole is resent whatever its size.
    const std::uint32_t avail =
        retrans ? std::min(unsent, sacked_.next_start(tcb_.snd_nxt, end) - tcb_.snd_nxt) : unsent;
    const std::uint32_t len = std::min<std::uint32_t>({avail, eff_mss_, room});
    if (unsent > 0 && len == 0) break;             // window full
    if (out_->size == OutQueue::kCapacity) break;  // caller drains, then calls flush()
    // Avoid silly small segments while more is in flight (a simple Nagle/SWS rule).
    if (len < avail && len < eff_mss_ && in_flight > 0) break;
    std::uint8_t fl = flags::kAck;
    const bool last = tcb_.snd_nxt + len == end;
    if (last && len) fl |= flags::kPsh;
    if (last && fin_queued_) fl |= flags::kFin;
    if (retrans) ++ctr_->RetransSegs;
    emit(tcb_.snd_nxt, fl, len, now_us);
    if (!retrans && !rtt_timing_ && len) {
      rtt_timing_ = true;
      rtt_seq_ = tcb_.snd_nxt;
      rtt_start_us_ = now_us;
    }
    tcb_.snd_nxt += len + ((fl & flags::kFin) ? 1u : 0u);
    if (seq_after(tcb_.snd_nxt, tcb_.snd_max)) tcb_.snd_max = tcb_.snd_nxt;
    if (!rto_deadline_ || probing_) {
      probing_ = false;
      arm_rto(now_us);
    }
    if (fl & flags::kFin) break;
  }
  // Zero window with data waiting and nothing in flight: the persist timer probes.
  if (tcb_.snd_nxt == tcb_.snd_una && seq_before(tcb_.snd_nxt, end) && tcb_.snd_wnd == 0 &&
      !rto_deadline_) {
    probing_ = true;
    arm_rto(now_us);
  }
}

// ---------------------------------------------------------------------------------------------
// Timers

std::uint64_t Connection::rto_us() const noexcept {
  const std::uint64_t r = base_rto_us_ << std::min<std::uint8_t>(backoff_, 40);
  return std::min(r, p_->rto_max_us);
}

void Connection::arm_rto(std::uint64_t now_us) noexcept {
  rto_deadline_ = now_us + rto_us();
}

void Connection::ts_rtt_sample(std::uint32_t tsecr, std::uint64_t now_us) noexcept {
  const std::int32_t ms = wire::ts_diff(ts_now(now_us, tcb_.ts_offset), tsecr);
  if (ms >= 0) rtt_sample(std::uint64_t(ms) * 1000);
}

void Connection::rtt_sample(std::uint64_t r) noexcept {
  if (srtt_us_ == 0) {
    srtt_us_ = std::max<std::uint64_t>(r, 1);
    rttvar_us_ = r / 2;
  } else {
    const std::uint64_t err = r > srtt_us_ ? r - srtt_us_ : srtt_us_ - r;
    rttvar_us_ = (3 * rttvar_us_ + err) / 4;
    srtt_us_ = (7 * srtt_us_ + r) / 8;
  }
  const std::uint64_t rto = srtt_us_ + std::max<std::uint64_t>(1000, 4 * rttvar_us_);
  base_rto_us_ = std::clamp(rto, p_->rto_min_us, p_->rto_max_us);
}

std::int32_t Connection::retry_limit() const noexcept {
  switch (state_) {
    case State::kSynSent:
      return p_->syn_retries;
    case State::kSynReceived:
      return passive_ ? p_->synack_retries : p_->syn_retries;
    default:
      break;
  }
  if (orphan_) return p_->orphan_retries ? p_->orphan_retries : 8;
  return p_->retries2;
}

std::uint64_t Connection::next_deadline() const noexcept {
  std::uint64_t d = kNever;
  if (rto_deadline_) d = std::min(d, rto_deadline_);
  if (delack_deadline_) d = std::min(d, delack_deadline_);
  return d;
}

void Connection::on_timer(std::uint64_t now_us) {
  // Timers send at once: on_rto() reads what output() sent to decide whether to probe.
  const bool held = std::exchange(output_held_, false);
  on_timer_unheld(now_us);
  output_held_ = held;
}

void Connection::on_timer_unheld(std::uint64_t now_us) {
  if (delack_deadline_ && now_us >= delack_deadline_) {
    delack_deadline_ = 0;
    if (synchronized() && unacked_rcv_) send_ack(now_us);
  }
  if (rto_deadline_ && now_us >= rto_deadline_) {
    rto_deadline_ = 0;
    on_rto(now_us);
  }
}

void Connection::on_rto(std::uint64_t now_us) {
  if (state_ == State::kClosed || state_ == State::kTimeWait) return;
  if (probing_) {
    // Zero-window probe: an old sequence number makes the peer ACK with its window.
    if (tcb_.snd_wnd == 0 && tcb_.snd_nxt == tcb_.snd_una) {
      // tcp_probe_timer(): give up after tcp_retries2 unanswered probes; an orphan sooner,
      // after tcp_orphan_retries (0 = 8 while the peer looks alive, i.e. the backed-off RTO
      // is still below rto_max), so a peer that never opens its window cannot pin it.
      std::uint32_t max_probes = p_->retries2;
      if (orphan_) {
        const bool alive = (base_rto_us_ << std::min<std::uint8_t>(backoff_, 40)) < p_->rto_max_us;
        max_probes = p_->orphan_retries ? p_->orphan_retries : (alive ? 8u : 0u);
        if (!alive && backoff_ >= max_probes) max_probes = 0;
      }
      if (probes_out_ >= max_probes) {
        ++ctr_->TCPAbortOnTimeout;
        to_closed(CloseReason::kTimeout);
        return;
      }
      ++probes_out_;
      emit(tcb_.snd_una - 1, flags::kAck, 0, now_us);
      if (backoff_ < p_->retries2) ++backoff_;
      arm_rto(now_us);
    } else {
      probing_ = false;
      output(now_us);
    }
    return;
  }
  if (static_cast<std::int64_t>(retries_) >= retry_limit()) {
    ++ctr_->TCPAbortOnTimeout;
    to_closed(CloseReason::kTimeout);
    return;
  }
  ++retries_;
  ++ctr_->TCPTimeouts;
  backoff_ = static_cast<std::uint8_t>(std::min(backoff_ + 1, 40));
  rtt_timing_ = false;  // Karn: no samples from retransmitted data
  if (state_ == State::kSynSent || state_ == State::kSynReceived) {
    ++ctr_->RetransSegs;
    send_syn(now_us);
    arm_rto(now_us);
    return;
  }
  // Go back N from snd_una with a one-segment window (RFC 5681 §3.1 after a timeout).
  ssthresh_ = std::max<std::uint32_t>((tcb_.snd_nxt - tcb_.snd_una) / 2, 2u * eff_mss_);
  cwnd_ = eff_mss_;
  // Leave fast recovery; dup ACKs the go-back-N provokes must not start another (RFC 6582).
  in_recovery_ = false;
  dupacks_ = 0;
  recover_ = tcb_.snd_max;
  tcb_.snd_nxt = tcb_.snd_una;
  arm_rto(now_us);
  output(now_us);
  if (tcb_.snd_nxt == tcb_.snd_una && seq_before(tcb_.snd_una, tcb_.snd_max)) {
    // Nothing could be resent (zero window): probe instead.
    emit(tcb_.snd_una - 1, flags::kAck, 0, now_us);
  }
}

// ---------------------------------------------------------------------------------------------
// Application

std::size_t Connection::send(std::span<const std::uint8_t> data, std::uint64_t now_us) {
  const bool open = state_ == State::kEstablished || state_ == State::kCloseWait ||
                    state_ == State::kSynSent || state_ == State::kSynReceived;
  if (!open || fin_queued_) return 0;
  const std::size_t n = sndbuf_.write(data);
  sndbuf_limited_ = sndbuf_.free() == 0;  // the application filled it (SOCK_NOSPACE)
  output(now_us);
  return n;
}

void Connection::flush(std::uint64_t now_us) {
  output(now_us);
}

std::size_t Connection::recv(std::span<std::uint8_t> out, std::uint64_t now_us) {
  const std::size_t n = rcvbuf_.read(out);
  if (n && synchronized()) {
    // Window update once the right edge can move by two segments or half the buffer
    // (__tcp_cleanup_rbuf), so a sender stuck on a full window resumes.
    const std::uint32_t cur = tcb_.rcv_adv - tcb_.rcv_nxt;
    const std::uint32_t could = static_cast<std::uint32_t>(rcvbuf_.free());
    const std::uint32_t step =
        std::min<std::uint32_t>(2u * eff_mss_, static_cast<std::uint32_t>(rcvbuf_.capacity() / 2));
    if (could >= cur + step && !fin_received_) ack_soon(now_us);
  }
  return n;
}

void Connection::shutdown_write(std::uint64_t now_us) {
  if (fin_queued_) return;
  switch (state_) {
    case State::kClosed:
    case State::kTimeWait:
      return;
    case State::kSynSent:
      // Nothing sent but a SYN: close at once (tcp_close on SYN_SENT sends no RST, and
      // only tcp_done() counts AttemptFails).
      to_closed(CloseReason::kNormal, false);
      return;
    case State::kSynReceived:
      fin_queued_ = true;  // FIN after the handshake completes
      return;
    case State::kEstablished:
      fin_queued_ = true;
      set_state(State::kFinWait1);
      break;
    case State::kCloseWait:
      fin_queued_ = true;
      set_state(State::kLastAck);
      break;
    default:
      return;
  }
  output(now_us);
}

void Connection::close(std::uint64_t now_us) {
  if (state_ == State::kClosed || state_ == State::kTimeWait) return;
  if (!rcvbuf_.empty() && synchronized()) {
    // tcp_close(): unread data means the peer will never get it; say so with an RST.
    ++ctr_->TCPAbortOnClose;
    send_rst(now_us);
    to_closed(CloseReason::kLocalReset);
    return;
  }
  orphan_ = true;
  shutdown_write(now_us);
  if (state_ == State::kFinWait2) enter_timewait(timewait::TwSubstate::kFinWait2, now_us);
}

void Connection::close_linger0(std::uint64_t now_us) {
  if (state_ == State::kClosed || state_ == State::kTimeWait) return;
  if (!rcvbuf_.empty() && synchronized()) {
    close(now_us);  // unread data wins: TCPAbortOnClose
    return;
  }
  if (synchronized()) {
    ++ctr_->TCPAbortOnData;
    send_rst(now_us);
  }
  to_closed(CloseReason::kLocalReset);
}

void Connection::abort(std::uint64_t now_us) {
  if (state_ == State::kClosed || state_ == State::kTimeWait) return;
  if (synchronized()) send_rst(now_us);
  to_closed(CloseReason::kLocalReset);
}

std::size_t Connection::copy_payload(const OutSegment& seg,
                                     std::span<std::uint8_t> out) const noexcept {
  if (seg.payload_len == 0) return 0;
  if (seq_before(seg.seq, sndbuf_seq_)) return 0;
  const std::size_t off = seg.seq - sndbuf_seq_;
  return sndbuf_.peek(off, out.first(std::min<std::size_t>(out.size(), seg.payload_len)));
}

}  // namespace twtcp::tcp
