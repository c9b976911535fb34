// bench/scripted_peer.hpp: a stateless scripted TCP peer for benchmarks that drive one real
// Stack, and the frame builders they share. The peer is the Stack's TxSink: it answers each
// frame from what the frame itself says (SYN -> SYN-ACK, SYN-ACK -> ACK, FIN -> FIN-ACK, ACK
// or nothing), so it keeps no per-connection state and the process's memory growth is the
// Stack's own. Its ISN for a tuple is a hash of the tuple, so benchmarks can rebuild any
// segment of any connection later without having stored it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "twtcp/stack.hpp"
#include "wire/segment.hpp"

namespace twtcp::bench {

inline constexpr std::uint32_t kStackAddr = 0xC6120001;  // 198.18.0.1: the Stack under test
inline constexpr std::uint32_t kPeerNet = 0x0A000000;    // 10.0.0.0/8: the peer's addresses
inline constexpr std::array<std::uint8_t, 6> kStackMac{2, 0, 0, 0, 0, 1};
inline constexpr std::array<std::uint8_t, 6> kPeerMac{2, 0, 0, 0, 0, 2};
inline constexpr std::uint8_t kPeerWscale = 7;
inline constexpr std::uint16_t kPeerWindow = 65535;

inline Identity stack_identity() {
  Identity id;
  id.addr = kStackAddr;
  id.mac = kStackMac;
  id.peer_mac = kPeerMac;
  return id;
}

// One connection as the Stack keys it (its own address is always kStackAddr).
struct Tuple {
  std::uint32_t remote_addr = 0;
  std::uint16_t remote_port = 0;
  std::uint16_t local_port = 0;
};

inline std::uint64_t mix64(std::uint64_t x) {  // splitmix64's finaliser
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

inline std::uint32_t peer_isn(const Tuple& t) {
  return static_cast<std::uint32_t>(mix64((std::uint64_t{t.remote_addr} << 32) |
                                          (std::uint32_t{t.remote_port} << 16) | t.local_port));
}

// What a benchmark segment carries besides the header fields.
struct PeerOpts {
  bool syn_options = false;  // MSS, window scale, SACK-permitted (a SYN or SYN-ACK)
  std::optional<wire::TcpTimestamps> ts;
};

// A segment from the peer to the Stack, written into `out`; returns its length (0: too small).
inline std::size_t build_peer_frame(std::span<std::uint8_t> out, const Tuple& t, std::uint32_t seq,
                                    std::uint32_t ack, std::uint8_t flags, const PeerOpts& o,
                                    std::span<const std::uint8_t> payload = {}) {
  wire::SegmentSpec s;
  s.eth_src = kPeerMac;
  s.eth_dst = kStackMac;
  s.src_addr = t.remote_addr;
  s.dst_addr = kStackAddr;
  s.tcp.src_port = t.remote_port;
  s.tcp.dst_port = t.local_port;
  s.tcp.seq = seq;
  s.tcp.ack = ack;
  s.tcp.flags = flags;
  s.tcp.window = kPeerWindow;
  if (o.syn_options) {
    s.tcp.options.mss = 1460;
    s.tcp.options.wscale = kPeerWscale;
    s.tcp.options.sack_permitted = true;
  }
  s.tcp.options.ts = o.ts;
  return wire::build_segment(out, s, payload);
}

// Prebuilt frames in one flat array (fixed stride), so a timed loop reads them in order and
// allocates nothing.
class FrameSet {
 public:
  explicit FrameSet(std::size_t stride = 128) : stride_(stride) {}
  void reserve(std::size_t n) {
    bytes_.reserve(n * stride_);
    len_.reserve(n);
  }
  // A slot to build the next frame into; commit() with the length the builder returned.
  std::span<std::uint8_t> next_slot() {
    bytes_.resize((len_.size() + 1) * stride_);
    return {bytes_.data() + len_.size() * stride_, stride_};
  }
  bool commit(std::size_t len) {
    if (len == 0) {
      bytes_.resize(len_.size() * stride_);
      return false;
    }
    len_.push_back(static_cast<std::uint16_t>(len));
    return true;
  }
  [[nodiscard]] std::size_t size() const noexcept { return len_.size(); }
  [[nodiscard]] std::span<const std::uint8_t> operator[](std::size_t i) const noexcept {
    return {bytes_.data() + i * stride_, len_[i]};
  }
  [[nodiscard]] std::span<std::uint8_t> mutable_frame(std::size_t i) noexcept {
    return {bytes_.data() + i * stride_, stride_};
  }
  void set_len(std::size_t i, std::size_t len) { len_[i] = static_cast<std::uint16_t>(len); }
  void clear() noexcept {  // keeps the capacity
    bytes_.clear();
    len_.clear();
  }

 private:
  std::size_t stride_;
  std::vector<std::uint8_t> bytes_;
  std::vector<std::uint16_t> len_;
};

enum class FinReply { kFinAck, kAck, kNone };

// The Stack's TxSink. With `replying` false it only counts (a timed loop's sink must cost
// next to nothing: it reads the flags byte and returns); with it true it parses each frame
// and queues its answer, which settle() feeds back (never synchronously: TxSink's rule).
class ScriptedPeer : public TxSink {
 public:
  struct Counts {
    std::uint64_t frames = 0, rsts = 0, syns = 0, fins = 0;
    std::uint64_t bare_acks = 0;  // flags exactly ACK (pure ACKs and data without PSH)
  };

  bool replying = true;
  FinReply fin_reply = FinReply::kFinAck;
  std::uint32_t tsval = 1;  // the peer's TS clock; raise it, never lower it (PAWS)
  // Sees every frame from the Stack while replying (e.g. to note a FIN's sequence numbers).
  std::function<void(const wire::SegmentView&)> observe;
  Counts counts;

  void transmit(std::span<const std::uint8_t> f) override {
    ++counts.frames;
    // Ethernet 14 + IPv4 20 (the Stack writes no IP options) + 13: the TCP flags byte.
    const std::uint8_t fl = f.size() > 47 ? f[47] : 0;
    if (fl & wire::tcp_flags::kRst) ++counts.rsts;
    if (fl & wire::tcp_flags::kSyn) ++counts.syns;
    if (fl & wire::tcp_flags::kFin) ++counts.fins;
    if (fl == wire::tcp_flags::kAck) ++counts.bare_acks;
    if (!replying) return;
    const auto p = wire::parse_segment(f, wire::kNoChecksums);
    if (!p) return;
    const wire::SegmentView& v = *p;
    if (observe) observe(v);
    if (v.flags & wire::tcp_flags::kRst) return;
    const Tuple t{v.dst_addr, v.dst_port, v.src_port};
    PeerOpts o;
    if (v.options.ts) o.ts = wire::TcpTimestamps{tsval, v.options.ts->tsval};
    const bool syn = v.flags & wire::tcp_flags::kSyn;
    const bool ack = v.flags & wire::tcp_flags::kAck;
    if (syn && !ack) {  // the Stack's active open
      o.syn_options = true;
      queue(t, peer_isn(t), v.seq + 1, wire::tcp_flags::kSyn | wire::tcp_flags::kAck, o);
    } else if (syn) {  // the Stack's SYN-ACK to our SYN
      queue(t, v.ack, v.seq + 1, wire::tcp_flags::kAck, o);
    } else if (v.flags & wire::tcp_flags::kFin) {
      if (fin_reply == FinReply::kFinAck) {
        queue(t, v.ack, v.end_seq(), wire::tcp_flags::kFin | wire::tcp_flags::kAck, o);
      } else if (fin_reply == FinReply::kAck) {
        queue(t, v.ack, v.end_seq(), wire::tcp_flags::kAck, o);
      }
    }
  }

  // Feeds queued answers to `stack` until none is left (answers to answers included).
  // Bounded: false if the exchange did not end within max_rounds.
  bool settle(Stack& stack, std::uint64_t now_us, int max_rounds = 64) {
    for (int r = 0; r < max_rounds; ++r) {
      if (q_.size() == 0) return true;
      std::swap(q_, cur_);
      for (std::size_t i = 0; i < cur_.size(); ++i) stack.input(cur_[i], now_us);
      cur_.clear();
    }
    return q_.size() == 0;
  }
  [[nodiscard]] std::size_t pending() const noexcept { return q_.size(); }

  // The peer opens a connection: its SYN, to be input by the caller.
  std::size_t build_syn(std::span<std::uint8_t> out, const Tuple& t) const {
    PeerOpts o;
    o.syn_options = true;
    o.ts = wire::TcpTimestamps{tsval, 0};
    return build_peer_frame(out, t, peer_isn(t), 0, wire::tcp_flags::kSyn, o);
  }

 private:
  void queue(const Tuple& t, std::uint32_t seq, std::uint32_t ack, std::uint8_t flags,
             const PeerOpts& o) {
    q_.commit(build_peer_frame(q_.next_slot(), t, seq, ack, flags, o));
  }

  FrameSet q_, cur_;
};

}  // namespace twtcp::bench
