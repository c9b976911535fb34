// tests/dpdk/test_offload.cpp: checksum offloads and zero-copy TX on real ethdevs.
// - net_ring offers no checksum offload: Port reports none, nothing is enabled, and two
//   Stacks still talk with every frame built in an mbuf and software checksums.
// - net_tap offers IPv4/TCP checksums both ways (the PMD computes them in software): Port
//   enables them unless told not to (twtcp.checksum_offload = off).
// - Against Linux over net_tap in a network namespace: a connection carries data both ways
//   with the checksums left to the device, and Linux counts no checksum error (it verifies
//   every frame a tap hands it); frames with a bad checksum injected from Linux come back from
//   the PMD marked BAD and the Stack drops and counts them (InErrs for the TCP one).
// Needs root (EAL, netns); skipped otherwise. Addresses: 198.18.5.0/24 inside the namespace.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <rte_bus_vdev.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "dpdk/clock.hpp"
#include "dpdk/datapath.hpp"
#include "dpdk/eal.hpp"
#include "dpdk/port.hpp"
#include "twtcp/config.hpp"
#include "twtcp/stack.hpp"
#include "wire/segment.hpp"

namespace twtcp::dpdk {
namespace {

std::unique_ptr<Eal> g_eal;

bool have_eal() {
  return g_eal != nullptr && g_eal->ok();
}

Config small_config(std::uint64_t seed) {
  Config c;
  c.max_connections = 64;
  c.flow_table_capacity = 1024;
  c.peer_table_size = 64;
  c.random_seed = seed;
  return c;
}

std::string pid_tag() {
  return std::to_string(getpid() % 100000);
}

// A net_tap ethdev created now; its port id, or -1.
int make_tap(const std::string& vdev, const std::string& iface) {
  if (rte_vdev_init(vdev.c_str(), ("iface=" + iface).c_str()) != 0) return -1;
  std::uint16_t id = 0;
  if (rte_eth_dev_get_port_by_name(vdev.c_str(), &id) != 0) return -1;
  return id;
}

bool run(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0;
}

TEST(RingPort, OffersNoChecksumOffloadsAndBuildsEveryFrameInAnMbuf) {
  if (!have_eal()) GTEST_SKIP() << "EAL needs root";
  std::string error;
  const auto pair = create_ring_pair("offl_ring", 1024, &error);
  ASSERT_TRUE(pair) << error;
  auto a = Port::open(pair->a, {}, &error);
  ASSERT_NE(a, nullptr) << error;
  auto b = Port::open(pair->b, {}, &error);
  ASSERT_NE(b, nullptr) << error;
  for (const Port* p : {a.get(), b.get()}) {
    EXPECT_FALSE(p->tx_checksum_offered().ipv4 || p->tx_checksum_offered().tcp) << p->driver();
    EXPECT_FALSE(p->tx_checksum_offloads().ipv4 || p->tx_checksum_offloads().tcp);
    EXPECT_FALSE(p->rx_checksum_offloads().ipv4 || p->rx_checksum_offloads().tcp);
  }
  {
    Datapath da(*a), db(*b);
    EXPECT_FALSE(da.tx().offloads().ipv4 || da.tx().offloads().tcp);
    TscClock clock;
    Identity ia, ib;
    ia.addr = 0xC6120502;
    ib.addr = 0xC6120501;
    ia.mac = a->mac();
    ib.mac = b->mac();
    ia.peer_mac = b->mac();
    ib.peer_mac = a->mac();
    Stack sa(small_config(1), ia, da.tx(), clock.now_us());
    Stack sb(small_config(2), ib, db.tx(), clock.now_us());
    std::size_t got = 0;
    Callbacks scb;
    scb.on_readable = [&](ConnId id) {
      std::uint8_t buf[4096];
      got += sb.recv(id, buf);
    };
    ASSERT_TRUE(sb.listen(80, scb));
    const std::vector<std::uint8_t> data(10000, 0x42);
    ConnectOptions o;
    o.callbacks.on_connected = [&](ConnId id) { sa.send(id, data); };
    ASSERT_TRUE(sa.connect(ib.addr, 80, o).ok());
    for (int i = 0; i < 100000 && got < data.size(); ++i) {
      da.poll(sa, clock.now_us());
      db.poll(sb, clock.now_us());
    }
    EXPECT_EQ(got, data.size());
    for (const Datapath* d : {&da, &db}) {
      const DatapathStats s = d->stats();
      EXPECT_GT(s.tx_frames, 0u);
      EXPECT_EQ(s.tx_built_in_mbuf, s.tx_frames) << "every Stack frame built in place";
      EXPECT_EQ(s.tx_csum_offloaded, 0u);
      EXPECT_EQ(s.rx_csum_verified + s.rx_csum_bad, 0u);
    }
    EXPECT_EQ(sa.counters().InErrs + sb.counters().InErrs, 0u);
    da.discard_rx();
    db.discard_rx();
  }
}

TEST(TapPort, OffersChecksumOffloadsAndEnablesThemUnlessTurnedOff) {
  if (!have_eal()) GTEST_SKIP() << "EAL needs root";
  const std::string tag = pid_tag();
  for (const bool use : {true, false}) {
    const int id =
        make_tap("net_tap_offl" + std::string(use ? "1" : "2"), "twoff" + tag + (use ? "a" : "b"));
    ASSERT_GE(id, 0);
    PortOptions po;
    po.checksum_offload = use;
    std::string error;
    auto p = Port::open(static_cast<std::uint16_t>(id), po, &error);
    ASSERT_NE(p, nullptr) << error;
    EXPECT_EQ(p->driver(), "net_tap");
    EXPECT_TRUE(p->tx_checksum_offered().ipv4 && p->tx_checksum_offered().tcp);
    EXPECT_TRUE(p->rx_checksum_offered().ipv4 && p->rx_checksum_offered().tcp);
    EXPECT_EQ(p->tx_checksum_offloads().ipv4, use);
    EXPECT_EQ(p->tx_checksum_offloads().tcp, use);
    EXPECT_EQ(p->rx_checksum_offloads().ipv4, use);
    EXPECT_EQ(p->rx_checksum_offloads().tcp, use);
    MbufTxSink sink(*p);
    EXPECT_EQ(sink.offloads().ipv4, use);
    EXPECT_EQ(sink.offloads().tcp, use);
  }
}

// --- Linux over net_tap ---

constexpr std::uint32_t kOurAddr = 0xC6120501;  // 198.18.5.1
constexpr const char* kOurAddrText = "198.18.5.1";
constexpr const char* kLinuxAddrText = "198.18.5.2";
constexpr std::size_t kRequest = 20000;    // Linux -> us
constexpr std::size_t kResponse = 200000;  // us -> Linux

std::uint8_t pattern(std::size_t i) {
  return static_cast<std::uint8_t>(i * 7 + 3);
}

// Tcp InCsumErrors and Ip InHdrErrors of the calling thread's network namespace.
bool linux_csum_errors(std::uint64_t* tcp, std::uint64_t* ip) {
  std::ifstream f("/proc/thread-self/net/snmp");
  std::string head, vals;
  bool found_tcp = false, found_ip = false;
  for (int i = 0; i < 40 && std::getline(f, head) && std::getline(f, vals); ++i) {
    std::istringstream h(head), v(vals);
    std::string hn, vn;
    h >> hn;
    v >> vn;
    while (h >> hn && v >> vn) {
      if (head.starts_with("Tcp:") && hn == "InCsumErrors") {
        *tcp = std::stoull(vn);
        found_tcp = true;
      }
      if (head.starts_with("Ip:") && hn == "InHdrErrors") {
        *ip = std::stoull(vn);
        found_ip = true;
      }
    }
  }
  return found_tcp && found_ip;
}

struct LinuxSide {
  std::string ns, iface;
  std::array<std::uint8_t, 6> our_mac{}, iface_mac{};
  std::atomic<bool> done{false};
  std::string failure;  // empty = fine
  std::size_t received = 0;
  bool pattern_ok = true;
  std::uint64_t tcp_csum_errors = ~0ull, ip_hdr_errors = ~0ull;

  void fail(const std::string& why) {
    if (failure.empty()) failure = why + ": " + std::strerror(errno);
  }

  // In the namespace: a TCP client (request, then the response to EOF), then two SYNs with a
  // broken TCP and a broken IPv4 checksum through a packet socket, then the kernel counters.
  void client() {
    const int nsfd = ::open(("/var/run/netns/" + ns).c_str(), O_RDONLY);
    if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) != 0) {
      fail("setns");
      done = true;
      return;
    }
    ::close(nsfd);
    tcp_session();
    inject_bad_frames();
    if (!linux_csum_errors(&tcp_csum_errors, &ip_hdr_errors)) fail("reading snmp");
    done = true;
  }

  void tcp_session() {
    const int s = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{10, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(7);
    inet_pton(AF_INET, kOurAddrText, &to.sin_addr);
    if (::connect(s, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
      fail("connect");
      ::close(s);
      return;
    }
    std::vector<std::uint8_t> req(kRequest, 0x61);
    for (std::size_t off = 0; off < req.size();) {
      const ssize_t n = ::send(s, req.data() + off, req.size() - off, 0);
      if (n <= 0) {
        fail("send");
        break;
      }
      off += static_cast<std::size_t>(n);
    }
    std::vector<std::uint8_t> buf(65536);
    for (int i = 0; i < 100000; ++i) {
      const ssize_t n = ::recv(s, buf.data(), buf.size(), 0);
      if (n == 0) break;
      if (n < 0) {
        fail("recv");
        break;
      }
      for (ssize_t k = 0; k < n; ++k) {
        if (buf[static_cast<std::size_t>(k)] != pattern(received + static_cast<std::size_t>(k))) {
          pattern_ok = false;
        }
      }
      received += static_cast<std::size_t>(n);
    }
    ::close(s);
  }

  void inject_bad_frames() {
    const int ps = ::socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    if (ps < 0) {
      fail("AF_PACKET socket");
      return;
    }
    sockaddr_ll ll{};
    ll.sll_family = AF_PACKET;
    ll.sll_ifindex = static_cast<int>(if_nametoindex(iface.c_str()));
    ll.sll_halen = 6;
    std::copy(our_mac.begin(), our_mac.end(), ll.sll_addr);
    for (int which = 0; which < 2; ++which) {
      wire::SegmentSpec s;
      s.eth_src = iface_mac;
      s.eth_dst = our_mac;
      s.src_addr = 0xC6120502;
      s.dst_addr = kOurAddr;
      s.tcp.src_port = static_cast<std::uint16_t>(41000 + which);
      s.tcp.dst_port = 7;
      s.tcp.seq = 12345;
      s.tcp.flags = wire::tcp_flags::kSyn;
      s.tcp.window = 65535;
      s.tcp.options.mss = 1460;
      std::vector<std::uint8_t> f(128);
      f.resize(wire::build_segment(f, s));
      f[which == 0 ? 14 + 20 + 16 : 14 + 10] ^= 0x40;  // TCP checksum / IPv4 checksum
      if (::sendto(ps, f.data(), f.size(), 0, reinterpret_cast<sockaddr*>(&ll), sizeof ll) !=
          static_cast<ssize_t>(f.size())) {
        fail("sendto");
      }
    }
    ::close(ps);
  }
};

bool read_mac(const std::string& iface, std::array<std::uint8_t, 6>* mac) {
  std::ifstream f("/sys/class/net/" + iface + "/address");
  std::string s;
  if (!(f >> s)) return false;
  unsigned v[6];
  if (std::sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) {
    return false;
  }
  for (int i = 0; i < 6; ++i) (*mac)[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v[i]);
  return true;
}

std::string mac_text(const std::array<std::uint8_t, 6>& m) {
  char b[18];
  std::snprintf(b, sizeof b, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return b;
}

TEST(TapAgainstLinux, ChecksumsLeftToTheDeviceAreValidOnTheWireAndBadOnesAreDropped) {
  if (!have_eal()) GTEST_SKIP() << "EAL needs root";
  if (!run("command -v ip")) GTEST_SKIP() << "no iproute2";
  LinuxSide lx;
  lx.ns = "twtcp-offl-" + pid_tag();
  lx.iface = "twoff" + pid_tag() + "c";
  struct NsGuard {
    std::string ns;
    ~NsGuard() { run("ip netns del " + ns); }
  } guard{lx.ns};
  ASSERT_TRUE(run("ip netns add " + lx.ns));
  ASSERT_TRUE(run("ip -n " + lx.ns + " link set lo up"));

  const int id = make_tap("net_tap_offl3", lx.iface);
  ASSERT_GE(id, 0);
  std::string error;
  auto port = Port::open(static_cast<std::uint16_t>(id), {}, &error);
  ASSERT_NE(port, nullptr) << error;
  ASSERT_TRUE(port->tx_checksum_offloads().tcp && port->rx_checksum_offloads().tcp);
  lx.our_mac = port->mac();
  ASSERT_TRUE(read_mac(lx.iface, &lx.iface_mac));
  // Our Datapath answers no ARP: Linux gets our MAC as a permanent neighbour.
  ASSERT_TRUE(run("ip link set " + lx.iface + " netns " + lx.ns));
  ASSERT_TRUE(run("ip -n " + lx.ns + " addr add " + kLinuxAddrText + "/24 dev " + lx.iface));
  ASSERT_TRUE(run("ip -n " + lx.ns + " link set " + lx.iface + " up"));
  ASSERT_TRUE(run("ip -n " + lx.ns + " neigh replace " + kOurAddrText + " lladdr " +
                  mac_text(lx.our_mac) + " dev " + lx.iface + " nud permanent"));

  {
    Datapath dp(*port);
    EXPECT_TRUE(dp.tx().offloads().ipv4 && dp.tx().offloads().tcp);
    TscClock clock;
    Identity me;
    me.addr = kOurAddr;
    me.mac = port->mac();
    me.peer_mac = lx.iface_mac;
    Stack stack(small_config(3), me, dp.tx(), clock.now_us());
    std::size_t got = 0, sent = 0;
    bool closed = false;
    ConnId conn = 0;
    std::vector<std::uint8_t> chunk(16384);
    auto pump = [&] {
      for (int i = 0; i < 1000 && got >= kRequest && sent < kResponse; ++i) {
        const std::size_t n = std::min(chunk.size(), kResponse - sent);
        for (std::size_t k = 0; k < n; ++k) chunk[k] = pattern(sent + k);
        const std::size_t took = stack.send(conn, std::span(chunk).first(n));
        if (took == 0) break;
        sent += took;
      }
      if (sent == kResponse && !closed) closed = stack.close(conn);
    };
    Callbacks cb;
    cb.on_accepted = [&](ConnId c) { conn = c; };
    cb.on_readable = [&](ConnId c) {
      std::uint8_t buf[4096];
      for (int i = 0; i < 1000; ++i) {
        const std::size_t n = stack.recv(c, buf);
        if (n == 0) break;
        got += n;
      }
      pump();
    };
    cb.on_writable = [&](ConnId) { pump(); };
    ASSERT_TRUE(stack.listen(7, cb));

    std::thread linux_thread([&lx] { lx.client(); });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!lx.done && std::chrono::steady_clock::now() < deadline) dp.poll(stack, clock.now_us());
    // The injected frames may still be on their way through the tap.
    const auto settle = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
    while (std::chrono::steady_clock::now() < settle) dp.poll(stack, clock.now_us());
    linux_thread.join();

    EXPECT_EQ(lx.failure, "");
    EXPECT_EQ(got, kRequest);
    EXPECT_EQ(lx.received, kResponse);
    EXPECT_TRUE(lx.pattern_ok);
    EXPECT_EQ(lx.tcp_csum_errors, 0u) << "Linux found a bad TCP checksum in our frames";
    EXPECT_EQ(lx.ip_hdr_errors, 0u) << "Linux found a bad IPv4 header in our frames";
    const DatapathStats s = dp.stats();
    const StackCounters c = stack.counters();
    EXPECT_GT(s.tx_csum_offloaded, 100u);  // 200 kB in ~1448-byte segments, and the ACKs
    EXPECT_EQ(s.tx_built_in_mbuf, s.tx_csum_offloaded);
    EXPECT_GT(s.rx_csum_verified, 10u);
    EXPECT_EQ(s.rx_csum_bad, 2u) << "the two injected frames";
    EXPECT_EQ(c.InErrs, 1u) << "the bad TCP checksum only";
    EXPECT_EQ(c.RetransSegs, 0u);
    std::printf(
        "tap: tx %llu (%llu checksums offloaded), rx %llu (%llu verified by the device, "
        "%llu bad); Linux InCsumErrors %llu\n",
        static_cast<unsigned long long>(s.tx_frames),
        static_cast<unsigned long long>(s.tx_csum_offloaded),
        static_cast<unsigned long long>(s.rx_frames),
        static_cast<unsigned long long>(s.rx_csum_verified),
        static_cast<unsigned long long>(s.rx_csum_bad),
        static_cast<unsigned long long>(lx.tcp_csum_errors));
  }
}

}  // namespace
}  // namespace twtcp::dpdk

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (geteuid() == 0) {
    twtcp::dpdk::g_eal = std::make_unique<twtcp::dpdk::Eal>(std::vector<std::string>{
        "test_offload", "-l", "0", "--no-huge", "--no-pci", "-m", "256", "--log-level", "error",
        "--file-prefix", "twtcp_offl_" + std::to_string(getpid())});
    if (!twtcp::dpdk::g_eal->ok())
      std::fprintf(stderr, "%s\n", twtcp::dpdk::g_eal->error().c_str());
  }
  const int rc = RUN_ALL_TESTS();
  twtcp::dpdk::g_eal.reset();
  return rc;
}
