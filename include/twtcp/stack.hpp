// twtcp/stack.hpp: the public TCP endpoint. A Stack owns many connections, their compact
// TIME_WAIT entries, the listeners and the local-port allocator of one IPv4 address.
//
// Sans-IO: the caller feeds Ethernet frames (input) and the time (input, advance) and
// receives frames through a TxSink it provides; events come back through callbacks. The
// Stack never reads a clock: every application call (connect, send, close, ...) acts at the
// time of the last input()/advance() call. Single-threaded: one Stack per lcore/thread.
// No global state, so several Stacks live in one process (the tests wire two back to back).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>

#include "twtcp/close_reason.hpp"
#include "twtcp/config.hpp"

namespace twtcp {

// Who this stack is on the wire. There is no ARP yet: every frame goes to `peer_mac` (the
// gateway or the single peer), and incoming frames are accepted whatever their MAC.
struct Identity {
  std::uint32_t addr = 0;  // our IPv4 address, host byte order
  std::array<std::uint8_t, 6> mac{};
  std::array<std::uint8_t, 6> peer_mac{};  // next hop for every frame (no ARP yet)
};

// Checksum fields a device computes, so the Stack leaves them as a NIC's offload expects:
// the IPv4 header checksum zero, the TCP checksum holding the pseudo-header sum (DPDK's
// rte_ipv4_phdr_cksum).
struct ChecksumOffloads {
  bool ipv4 = false;
  bool tcp = false;
};

// Where the stack's frames go. transmit() must copy the frame before returning (the buffer is
// reused) and must not call back into the same Stack synchronously: queue it instead.
//
// Two optional parts, both off by default so a sink that only implements transmit() gets
// complete frames built in the Stack's own buffer:
// - offloads(): read once, when a Stack is built on this sink. Every TCP/IPv4 frame the
//   Stack then hands over leaves those checksum fields to the sink's device.
// - tx_begin()/tx_commit(): the Stack builds the frame in the sink's memory (an mbuf's data
//   area) instead of its own buffer, saving transmit()'s copy. tx_begin(max_len) returns at
//   least max_len writable bytes, or an empty span (then the Stack uses transmit()). The
//   Stack then calls tx_commit(len) exactly once, before any other call on the sink: len
//   bytes from the start are the frame; 0 abandons it.
class TxSink {
 public:
  virtual ~TxSink() = default;
  virtual void transmit(std::span<const std::uint8_t> frame) = 0;
  [[nodiscard]] virtual ChecksumOffloads offloads() const noexcept { return {}; }
  [[nodiscard]] virtual std::span<std::uint8_t> tx_begin(std::size_t /*max_len*/) { return {}; }
  virtual void tx_commit(std::size_t /*len*/) {}
};

// What the device already checked in a received frame (DPDK's RTE_MBUF_F_RX_*_CKSUM_*).
// kUnchecked: the Stack verifies that checksum itself; kGood: it skips the work; kBad: the
// frame is dropped and counted as a software-detected bad checksum would be.
enum class RxChecksum : std::uint8_t { kUnchecked = 0, kGood, kBad };
struct RxChecksums {
  RxChecksum ipv4 = RxChecksum::kUnchecked;
  RxChecksum tcp = RxChecksum::kUnchecked;
};
// One frame of an RX burst (Stack::input_burst).
struct RxFrame {
  std::span<const std::uint8_t> frame;
  RxChecksums checked{};
};

// A handle on a connection: slot index and generation, so a stale id (the connection closed
// and its slot was reused) is rejected rather than acting on a stranger. 0 is never valid.
using ConnId = std::uint64_t;

// Event callbacks of a connection. Unset members are skipped. Callbacks may call any Stack
// method, including on the connection they are told about. After on_closed the id is dead.
struct Callbacks {
  std::function<void(ConnId)> on_accepted;     // passive open completed (listener's connection)
  std::function<void(ConnId)> on_connected;    // active open completed
  std::function<void(ConnId)> on_readable;     // new in-order bytes: call recv()
  std::function<void(ConnId)> on_writable;     // send-buffer space was freed
  std::function<void(ConnId)> on_peer_closed;  // the peer's FIN arrived (in order)
  std::function<void(ConnId, CloseReason)> on_closed;
};
// Listeners hand these to every connection they accept.
using ListenerCallbacks = Callbacks;

// One TIME_WAIT entry as an operator sees it (ss -tan state time-wait, plus the timer).
struct TimeWaitInfo {
  std::uint32_t local_addr = 0, remote_addr = 0;  // host order
  std::uint16_t local_port = 0, remote_port = 0;
  std::uint64_t expires_in_us = 0;  // 0 if already due
  std::uint32_t ts_recent = 0;
  bool has_timestamps = false;  // ts_recent_stamp != 0: PAWS applies, tw_reuse may take it
  bool fin_wait2 = false;       // the FIN_WAIT2 stand-in substate
  std::uint32_t rcv_nxt = 0, snd_nxt = 0;
};

// connect() options. local_port != 0 is bind() before connect(): no search, and any TIME_WAIT
// entry that saw timestamps may be taken over (SPEC §4.1 R15). port_range {0,0} = the
// system net.ipv4.ip_local_port_range, otherwise a per-call IP_LOCAL_PORT_RANGE.
// shared_callbacks, when set, is used instead of `callbacks` and shared with every other
// connection given the same pointer, as a listener's connections share the listener's: a load
// generator opening millions of connections with the same handlers then pays no copy and no
// allocation per connect() (a Callbacks is ~200 bytes of std::function).
struct ConnectOptions {
  std::uint16_t local_port = 0;
  PortRange port_range{0, 0};
  Callbacks callbacks;
  std::shared_ptr<const Callbacks> shared_callbacks;
};

// errno-like results, with Linux's numbers whatever the host libc says.
inline constexpr int kEaddrnotavail = 99;  // no usable local port (SPEC R20)
inline constexpr int kEnobufs = 105;       // connection pool or flow table full
inline constexpr int kEinval = 22;

struct ConnectResult {
  ConnId id = 0;
  int error = 0;  // 0 on success, else kEaddrnotavail / kEnobufs / kEinval
  [[nodiscard]] bool ok() const noexcept { return error == 0; }
};

// Linux SNMP (Tcp:) and netstat (TcpExt:) counters, by their nstat names.
struct StackCounters {
  // Tcp:
  std::uint64_t ActiveOpens = 0, PassiveOpens = 0, AttemptFails = 0, EstabResets = 0;
  std::uint64_t CurrEstab = 0;  // a gauge: connections in ESTABLISHED or CLOSE_WAIT
  std::uint64_t InSegs = 0, OutSegs = 0, RetransSegs = 0, InErrs = 0, OutRsts = 0;
  // TcpExt:
  std::uint64_t TW = 0, TWKilled = 0, TWRecycled = 0, TCPTimeWaitOverflow = 0;
  std::uint64_t PAWSActive = 0, PAWSPassive = 0, PAWSEstab = 0, PAWSTimewait = 0;
  std::uint64_t TCPACKSkippedTimeWait = 0, TCPACKSkippedFinWait2 = 0;
  std::uint64_t TCPACKSkippedPAWS = 0, TCPACKSkippedSeq = 0, TCPACKSkippedChallenge = 0;
  std::uint64_t TCPChallengeACK = 0, TCPSYNChallenge = 0;
  std::uint64_t TCPAbortOnData = 0, TCPAbortOnClose = 0, TCPAbortOnTimeout = 0;
  std::uint64_t TCPOFODrop = 0, TCPOFOQueue = 0, TCPOFOMerge = 0;
  std::uint64_t TCPFastRetrans = 0, TCPRenoRecovery = 0, TCPSackRecovery = 0, TCPTimeouts = 0;
  // SYNs (and cookie ACKs) a listener dropped: backlog full without cookies, or no free
  // connection / flow table slot (the latter also ListenOverflows, Linux's accept queue full).
  std::uint64_t ListenDrops = 0, ListenOverflows = 0;
  // The per-listener SYN backlog (net.ipv4.tcp_max_syn_backlog) was full, or tcp_syncookies
  // is 2: SYN dropped (tcp_syncookies 0) or answered with a cookie.
  std::uint64_t TCPReqQFullDrop = 0, TCPReqQFullDoCookies = 0;
  // SYN cookies sent, valid cookie ACKs (connection opened), invalid ones (answered by RST).
  std::uint64_t SyncookiesSent = 0, SyncookiesRecv = 0, SyncookiesFailed = 0;
  // twtcp's own: frames that were not a valid TCP/IPv4 segment for us (bad checksum, bad
  // header, other protocol, other address). Bad TCP checksums also count InErrs.
  std::uint64_t TwtcpRxDropped = 0;
  // Limits hit (each a config key; README "Limits"): connect() refused with kEnobufs because
  // twtcp.max_connections or twtcp.flow_table_capacity was reached; listen() refused at
  // twtcp.max_listeners; challenge ACKs not sent because the stack-wide
  // net.ipv4.tcp_challenge_ack_limit for this second was spent (Linux counts none of these);
  // per-host PAWS entries pushed out of a full twtcp.peer_table_size (least recently used).
  std::uint64_t TwtcpConnectNoBuffers = 0, TwtcpListenLimit = 0;
  std::uint64_t TwtcpChallengeAckLimited = 0, TwtcpPeerEvictions = 0;

  // Calls fn("Tcp", "ActiveOpens", value) for every counter, in declaration order (for JSON).
  void for_each(const std::function<void(std::string_view group, std::string_view name,
                                         std::uint64_t)>& fn) const;
  // Adds every counter of `o` (the Stacks of several lcores make one host's figures).
  StackCounters& operator+=(const StackCounters& o) noexcept;
  // The value of a counter by its nstat name ("TWRecycled"), or -1 if there is none.
  [[nodiscard]] std::int64_t get(std::string_view name) const;
};

class Stack {
 public:
  // Builds every fixed-capacity table from `cfg` (which should have passed validate()):
  // flow table (twtcp.flow_table_capacity), connection pool (twtcp.max_connections),
  // TIME_WAIT pool (min(tcp_max_tw_buckets, flow table capacity)), per-host PAWS table,
  // timer wheel, port allocator. Throws std::invalid_argument on unusable sizes.
  Stack(const Config& cfg, const Identity& id, TxSink& tx, std::uint64_t now_us = 0);
  ~Stack();
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  // One received Ethernet frame at now_us. Anything that is not a valid TCP/IPv4 segment to
  // our address is counted and dropped; nothing here trusts the frame's contents, except
  // the checksum verdicts a device gave in `checked`.
  void input(std::span<const std::uint8_t> frame, std::uint64_t now_us, RxChecksums checked = {});
  // input() on each frame in order, with the burst's flow-table and connection cache misses
  // overlapped (prefetched a pass ahead): what a poll loop with an RX burst should call.
  // Frames must stay valid until it returns.
  void input_burst(std::span<const RxFrame> frames, std::uint64_t now_us);
  // Moves time to now_us and fires what is due: connections' RTO / SYN / delayed-ACK /
  // persist timers and TIME_WAIT expiry.
  void advance(std::uint64_t now_us);
  // The earliest time advance() may have work, UINT64_MAX if none (may be early, never late).
  [[nodiscard]] std::uint64_t next_wakeup() const noexcept;

  // Accepts SYNs to (our address, port). false if the port already listens or is 0, or if
  // twtcp.max_listeners ports already listen (TwtcpListenLimit).
  bool listen(std::uint16_t port, ListenerCallbacks callbacks);

  // Active open to remote_addr:remote_port (host order). The local port comes from the port
  // allocator (or options.local_port); a TIME_WAIT entry on the chosen tuple is taken over
  // when net.ipv4.tcp_tw_reuse allows (TWRecycled; ISN = old snd_nxt + 65537).
  // kEnobufs (TwtcpConnectNoBuffers) when the connection pool or the flow table is full;
  // nothing else is touched then.
  ConnectResult connect(std::uint32_t remote_addr, std::uint16_t remote_port,
                        ConnectOptions options = {});
  // With one Stack per lcore on a multi-queue port: connect() uses only 4-tuples for which
  // `steering(local_addr, local_port, remote_addr, remote_port)` is true (those whose answers
  // the NIC's or the software RSS sends to this Stack's queue), for searched and explicit
  // ports alike; an explicit port that fails it gets kEaddrnotavail. Empty: all tuples.
  using ConnectSteering =
      std::function<bool(std::uint32_t, std::uint16_t, std::uint32_t, std::uint16_t)>;
  void steer_connects(ConnectSteering steering);

  // Queues bytes for sending; returns how many fit (0 for a dead id or a closed write side).
  std::size_t send(ConnId id, std::span<const std::uint8_t> data);
  // Reads in-order received bytes; returns how many (0 if none or a dead id).
  std::size_t recv(ConnId id, std::span<std::uint8_t> out);
  // Ends the write side (FIN after queued data). false for a dead id.
  bool shutdown(ConnId id);
  // close(): FIN (or RST with TCPAbortOnClose if unread data); the connection lives on as an
  // orphan and on_closed still comes. false for a dead id.
  bool close(ConnId id);
  // RST now, no TIME_WAIT.
  bool abort(ConnId id);
  // SO_LINGER {1, 0} + close(): RST, no TIME_WAIT, TCPAbortOnData.
  bool close_linger0(ConnId id);

  // --- observation ---
  [[nodiscard]] StackCounters counters() const;
  [[nodiscard]] std::size_t timewait_count() const noexcept;
  // Calls fn for up to `max` TIME_WAIT entries, soonest expiry first within each lifetime;
  // returns how many. Read-only; do not call Stack methods from fn.
  std::size_t for_each_timewait(const std::function<void(const TimeWaitInfo&)>& fn,
                                std::size_t max) const;
  [[nodiscard]] std::size_t connection_count() const noexcept;
  // The local port of a live connection (0 for a dead id).
  [[nodiscard]] std::uint16_t local_port(ConnId id) const noexcept;
  // For tests and traces: a live connection's ISN and next send sequence (0 if dead).
  [[nodiscard]] std::uint32_t iss(ConnId id) const noexcept;
  [[nodiscard]] std::uint32_t snd_nxt(ConnId id) const noexcept;
  // Bytes one TIME_WAIT entry costs: the entry itself plus its share of the flow table.
  [[nodiscard]] static double timewait_entry_bytes(const Config& cfg) noexcept;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace twtcp
