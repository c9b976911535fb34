// tests/tcp/test_checksum_offload.cpp: the Stack's side of checksum offloads and zero-copy
// TX, with no device: sinks that play the NIC. TX: with offloads on, every frame leaves the
// IPv4 checksum zero and the pseudo-header sum in the TCP checksum field, and once a "NIC"
// fills them the peer's software verification accepts it; frames built in the sink's memory
// (tx_begin/tx_commit) are byte for byte those of the copy path. RX: a device's GOOD verdict
// skips verification, BAD drops and counts as software would.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <vector>

#include "twtcp/config.hpp"
#include "twtcp/stack.hpp"
#include "wire/bytes.hpp"
#include "wire/checksum.hpp"
#include "wire/segment.hpp"

namespace twtcp {
namespace {

constexpr std::uint32_t kClientAddr = 0xC6120002;  // 198.18.0.2
constexpr std::uint32_t kServerAddr = 0xC6120001;  // 198.18.0.1
constexpr std::size_t kIp = 14;                    // IPv4 header offset in a frame
constexpr std::size_t kTcp = 14 + 20;              // TCP header offset (no IP options)

// Fills what a device with checksum offload fills: the IPv4 header checksum (field zero) and
// the TCP checksum (field holding the pseudo-header sum, so summing the segment completes it).
void nic_fill(std::vector<std::uint8_t>& f, ChecksumOffloads o) {
  if (o.ipv4) {
    wire::store_be16(&f[kIp + 10], wire::internet_checksum({&f[kIp], 20}));
  }
  if (o.tcp) {
    const std::span<const std::uint8_t> seg(&f[kTcp], f.size() - kTcp);
    wire::store_be16(&f[kTcp + 16], wire::internet_checksum(seg));
  }
}

// A sink that plays the NIC: records each frame as the Stack left it, fills the offloaded
// fields and queues it for the peer. Optionally lends its own buffer (zero-copy path).
struct NicSink : TxSink {
  ChecksumOffloads offload{};
  bool lend = false;         // implement tx_begin/tx_commit
  bool lend_refuse = false;  // tx_begin returns no buffer (the Stack must use transmit())
  std::vector<std::uint8_t> lent = std::vector<std::uint8_t>(70000);
  bool open = false;
  std::vector<std::vector<std::uint8_t>> raw;  // as built by the Stack
  std::deque<std::vector<std::uint8_t>> q;     // as the wire carries them
  std::uint64_t transmits = 0, commits = 0, aborts = 0, begins = 0;

  [[nodiscard]] ChecksumOffloads offloads() const noexcept override { return offload; }
  void transmit(std::span<const std::uint8_t> f) override {
    EXPECT_FALSE(open) << "transmit() inside a tx_begin/tx_commit pair";
    ++transmits;
    put(f);
  }
  std::span<std::uint8_t> tx_begin(std::size_t max_len) override {
    ++begins;
    if (!lend || lend_refuse || max_len > lent.size()) return {};
    EXPECT_FALSE(open) << "tx_begin twice without tx_commit";
    open = true;
    std::fill(lent.begin(), lent.end(), std::uint8_t{0xa5});  // no stale bytes can pass
    return lent;
  }
  void tx_commit(std::size_t len) override {
    EXPECT_TRUE(open);
    open = false;
    if (len == 0) {
      ++aborts;
      return;
    }
    ++commits;
    put({lent.data(), len});
  }
  void put(std::span<const std::uint8_t> f) {
    raw.emplace_back(f.begin(), f.end());
    std::vector<std::uint8_t> w(f.begin(), f.end());
    nic_fill(w, offload);
    q.push_back(std::move(w));
  }
};

Identity ident(std::uint32_t addr, std::uint8_t mac_last, std::uint8_t peer_last) {
  Identity id;
  id.addr = addr;
  id.mac = {2, 0, 0, 0, 0, mac_last};
  id.peer_mac = {2, 0, 0, 0, 0, peer_last};
  return id;
}

Config small() {
  Config c;
  c.max_connections = 64;
  c.flow_table_capacity = 1024;
  c.peer_table_size = 64;
  c.random_seed = 42;
  return c;
}

// Two Stacks through NicSinks, a fixed 100 µs hop. The server echoes and closes; the client
// sends `request` once connected.
struct Pair {
  std::uint64_t now = 0;
  NicSink c2s, s2c;
  RxChecksums c_rx{}, s_rx{};  // the verdict each side's "device" gives every frame
  std::unique_ptr<Stack> client, server;
  std::string got;
  bool closed = false;

  Pair(ChecksumOffloads off, bool lend) {
    c2s.offload = s2c.offload = off;
    c2s.lend = s2c.lend = lend;
    client = std::make_unique<Stack>(small(), ident(kClientAddr, 2, 1), c2s);
    server = std::make_unique<Stack>(small(), ident(kServerAddr, 1, 2), s2c);
  }

  void echo_session(const std::string& request) {
    Callbacks scb;
    scb.on_readable = [this](ConnId id) {
      std::vector<std::uint8_t> buf(65536);
      const std::size_t n = server->recv(id, buf);
      server->send(id, std::span(buf).first(n));
    };
    scb.on_peer_closed = [this](ConnId id) { server->close(id); };
    ASSERT_TRUE(server->listen(7, scb));
    ConnectOptions o;
    o.callbacks.on_connected = [this, &request](ConnId id) {
      client->send(id, {reinterpret_cast<const std::uint8_t*>(request.data()), request.size()});
    };
    o.callbacks.on_readable = [this, &request](ConnId id) {
      std::vector<std::uint8_t> buf(65536);
      const std::size_t n = client->recv(id, buf);
      got.append(reinterpret_cast<const char*>(buf.data()), n);
      if (got.size() >= request.size()) client->close(id);
    };
    o.callbacks.on_closed = [this](ConnId, CloseReason) { closed = true; };
    ASSERT_TRUE(client->connect(kServerAddr, 7, o).ok());
    for (int step = 0; step < 100000 && !(closed && c2s.q.empty() && s2c.q.empty()); ++step) {
      now += 100;
      for (std::size_t n = c2s.q.size(); n-- > 0;) {
        const auto f = std::move(c2s.q.front());
        c2s.q.pop_front();
        server->input(f, now, s_rx);
      }
      for (std::size_t n = s2c.q.size(); n-- > 0;) {
        const auto f = std::move(s2c.q.front());
        s2c.q.pop_front();
        client->input(f, now, c_rx);
      }
      client->advance(now);
      server->advance(now);
    }
  }
};

std::string request_of(std::size_t n) {
  std::string s(n, 'x');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26);
  return s;
}

// Every frame as built: IPv4 checksum 0, TCP checksum = pseudo-header sum over its length.
void expect_left_for_the_nic(const std::vector<std::vector<std::uint8_t>>& frames) {
  ASSERT_FALSE(frames.empty());
  for (const auto& f : frames) {
    ASSERT_GE(f.size(), kTcp + 20);
    const std::uint32_t src = wire::load_be32(&f[kIp + 12]);
    const std::uint32_t dst = wire::load_be32(&f[kIp + 16]);
    const auto tcp_len = static_cast<std::uint16_t>(f.size() - kTcp);
    EXPECT_EQ(wire::load_be16(&f[kIp + 10]), 0);
    EXPECT_EQ(wire::load_be16(&f[kTcp + 16]), wire::tcp_pseudo_header_sum(src, dst, tcp_len));
    // Not already a valid frame: the device's work is really left to it.
    EXPECT_FALSE(wire::parse_segment(f));
  }
}

TEST(ChecksumOffload, FramesLeaveBothFieldsToTheDeviceAndAreValidOnceFilled) {
  for (const bool lend : {false, true}) {
    SCOPED_TRACE(lend ? "built in the sink's buffer" : "copied by transmit()");
    Pair p({true, true}, lend);
    const std::string req = request_of(3000);  // several full segments and a short one
    p.echo_session(req);
    EXPECT_EQ(p.got, req);
    EXPECT_TRUE(p.closed);
    expect_left_for_the_nic(p.c2s.raw);
    expect_left_for_the_nic(p.s2c.raw);
    // The peers verified everything in software (RxChecksums{} = unchecked) and found no error.
    EXPECT_EQ(p.client->counters().InErrs, 0u);
    EXPECT_EQ(p.server->counters().InErrs, 0u);
    EXPECT_EQ(p.server->counters().TwtcpRxDropped, 0u);
    EXPECT_EQ(p.client->counters().RetransSegs, 0u);
  }
}

TEST(ChecksumOffload, OnlyTheOffloadedFieldIsLeft) {
  Pair p({false, true}, false);
  p.echo_session("hello");
  EXPECT_EQ(p.got, "hello");
  for (const auto& f : p.c2s.raw) {
    EXPECT_EQ(wire::internet_checksum({&f[kIp], 20}), 0) << "IPv4 checksum computed";
    const auto tcp_len = static_cast<std::uint16_t>(f.size() - kTcp);
    EXPECT_EQ(wire::load_be16(&f[kTcp + 16]),
              wire::tcp_pseudo_header_sum(kClientAddr, kServerAddr, tcp_len));
  }
}

TEST(ChecksumOffload, NoOffloadsMeansCompleteFrames) {
  Pair p({}, true);
  p.echo_session("hello");
  EXPECT_EQ(p.got, "hello");
  for (const auto& f : p.c2s.raw) EXPECT_TRUE(wire::parse_segment(f)) << "checksums complete";
}

TEST(ZeroCopyTx, FramesBuiltInTheSinkEqualTheCopyPathsByteForByte) {
  Pair copy({}, false), direct({}, true);
  const std::string req = request_of(5000);
  copy.echo_session(req);
  direct.echo_session(req);
  EXPECT_EQ(direct.got, req);
  EXPECT_EQ(copy.c2s.raw, direct.c2s.raw);
  EXPECT_EQ(copy.s2c.raw, direct.s2c.raw);
  EXPECT_EQ(direct.c2s.transmits + direct.s2c.transmits, 0u);
  EXPECT_EQ(direct.c2s.commits, direct.c2s.raw.size());
  EXPECT_EQ(direct.c2s.aborts + direct.s2c.aborts, 0u);
  EXPECT_EQ(copy.c2s.commits + copy.s2c.commits, 0u);
}

TEST(ZeroCopyTx, NoBufferFromTheSinkFallsBackToTransmit) {
  Pair p({}, true);
  p.c2s.lend_refuse = true;  // an mbuf pool ran dry, say
  p.echo_session("hello");
  EXPECT_EQ(p.got, "hello");
  EXPECT_GT(p.c2s.begins, 0u);
  EXPECT_EQ(p.c2s.transmits, p.c2s.raw.size());
  EXPECT_EQ(p.s2c.commits, p.s2c.raw.size());
}

// --- RX ---

// A SYN to the server's listener, checksums complete.
std::vector<std::uint8_t> syn(std::uint16_t sport) {
  wire::SegmentSpec s;
  s.eth_src = {2, 0, 0, 0, 0, 2};
  s.eth_dst = {2, 0, 0, 0, 0, 1};
  s.src_addr = kClientAddr;
  s.dst_addr = kServerAddr;
  s.tcp.src_port = sport;
  s.tcp.dst_port = 7;
  s.tcp.seq = 1000;
  s.tcp.flags = wire::tcp_flags::kSyn;
  s.tcp.window = 65535;
  s.tcp.options.mss = 1460;
  std::vector<std::uint8_t> out(200);
  out.resize(wire::build_segment(out, s));
  return out;
}

struct RxRig {
  NicSink out;
  Stack server{small(), ident(kServerAddr, 1, 2), out};
  RxRig() { EXPECT_TRUE(server.listen(7, {})); }
  // True if the frame got an answer (a SYN-ACK).
  bool answered(const std::vector<std::uint8_t>& f, RxChecksums rx) {
    const std::size_t before = out.raw.size();
    server.input(f, 1000, rx);
    return out.raw.size() > before;
  }
};

constexpr RxChecksum kU = RxChecksum::kUnchecked, kG = RxChecksum::kGood, kB = RxChecksum::kBad;

TEST(RxChecksumOffload, GoodVerdictsSkipVerification) {
  RxRig r;
  auto bad_tcp = syn(40000);
  bad_tcp[kTcp + 16] ^= 0x5a;  // a device said GOOD: we do not look
  EXPECT_TRUE(r.answered(bad_tcp, {kU, kG}));
  auto bad_ip = syn(40001);
  bad_ip[kIp + 10] ^= 0x5a;
  EXPECT_TRUE(r.answered(bad_ip, {kG, kU}));
  auto both = syn(40002);
  both[kIp + 10] ^= 0x11;
  both[kTcp + 16] ^= 0x22;
  EXPECT_TRUE(r.answered(both, {kG, kG}));
  const StackCounters c = r.server.counters();
  EXPECT_EQ(c.InErrs, 0u);
  EXPECT_EQ(c.TwtcpRxDropped, 0u);
  EXPECT_EQ(r.server.connection_count(), 3u);
}

TEST(RxChecksumOffload, UncheckedVerdictsAreVerifiedInSoftware) {
  RxRig r;
  auto bad_tcp = syn(40000);
  bad_tcp[kTcp + 16] ^= 0x5a;
  EXPECT_FALSE(r.answered(bad_tcp, {kG, kU}));  // IPv4 vouched for, TCP still checked
  auto bad_ip = syn(40001);
  bad_ip[kIp + 10] ^= 0x5a;
  EXPECT_FALSE(r.answered(bad_ip, {kU, kG}));
  const StackCounters c = r.server.counters();
  EXPECT_EQ(c.InErrs, 1u);  // the TCP one
  EXPECT_EQ(c.TwtcpRxDropped, 2u);
}

TEST(RxChecksumOffload, BadVerdictsDropAndCountLikeSoftware) {
  RxRig r;
  // Intact frames: the device's verdict alone decides.
  EXPECT_FALSE(r.answered(syn(40000), {kG, kB}));
  EXPECT_FALSE(r.answered(syn(40001), {kU, kB}));
  StackCounters c = r.server.counters();
  EXPECT_EQ(c.InErrs, 2u);
  EXPECT_EQ(c.TwtcpRxDropped, 2u);
  EXPECT_FALSE(r.answered(syn(40002), {kB, kG}));
  EXPECT_FALSE(r.answered(syn(40003), {kB, kU}));
  c = r.server.counters();
  EXPECT_EQ(c.InErrs, 2u) << "a bad IPv4 header is not a TCP checksum error";
  EXPECT_EQ(c.TwtcpRxDropped, 4u);
  EXPECT_EQ(r.server.connection_count(), 0u);
  // The same counts as the software path gives for the same damage.
  RxRig sw;
  auto t = syn(40000);
  t[kTcp + 16] ^= 1;
  auto i = syn(40001);
  i[kIp + 10] ^= 1;
  EXPECT_FALSE(sw.answered(t, {}));
  EXPECT_FALSE(sw.answered(i, {}));
  EXPECT_EQ(sw.server.counters().InErrs, 1u);
  EXPECT_EQ(sw.server.counters().TwtcpRxDropped, 2u);
}

TEST(RxChecksumOffload, ABadTcpVerdictOnAFrameThatIsNoSegmentCountsItsOwnError) {
  RxRig r;
  std::vector<std::uint8_t> arp(60, 0);
  arp[12] = 0x08;
  arp[13] = 0x06;
  EXPECT_FALSE(r.answered(arp, {kU, kB}));
  EXPECT_EQ(r.server.counters().InErrs, 0u);
  EXPECT_EQ(r.server.counters().TwtcpRxDropped, 1u);
}

}  // namespace
}  // namespace twtcp
