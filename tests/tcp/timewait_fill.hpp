// tests/tcp/timewait_fill.hpp: fills one Stack with real TIME_WAIT entries, fast. Two Stacks
// (client 198.18.0.2, server 198.18.0.1) are wired back to back with no link delay; the
// client opens connections in batches and closes each as soon as it is connected, so every
// connection ends in TIME_WAIT on the client. Used by the unit test (20k entries) and by the
// timewait_memory program (1M entries).
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <map>
#include <span>
#include <utility>
#include <vector>

#include "twtcp/config.hpp"
#include "twtcp/stack.hpp"
#include "wire/segment.hpp"

namespace twtcp::twfill {

constexpr std::uint32_t kClientAddr = 0xC6120002;  // 198.18.0.2
constexpr std::uint32_t kServerAddr = 0xC6120001;  // 198.18.0.1
constexpr std::uint16_t kFirstServerPort = 1000;
constexpr std::uint16_t kFirstLocalPort = 2000;
constexpr std::uint32_t kPortsPerServerPort = 60000;  // local ports 2000..61999

// The 4-tuple of connection i: local port and server port.
inline std::pair<std::uint16_t, std::uint16_t> ports_of(std::uint64_t i) {
  return {static_cast<std::uint16_t>(kFirstLocalPort + i % kPortsPerServerPort),
          static_cast<std::uint16_t>(kFirstServerPort + i / kPortsPerServerPort)};
}

// Set by a test that counts heap allocations inside Stack calls: the harness's own (copying
// frames) are not counted.
inline bool* counting = nullptr;

struct Queue : TxSink {
  std::deque<std::vector<std::uint8_t>> q;
  // For connections whose local port is watched: the last seq+len the sender used.
  std::map<std::pair<std::uint16_t, std::uint16_t>, std::uint32_t>* watch = nullptr;
  bool from_client = false;
  void transmit(std::span<const std::uint8_t> f) override {
    const bool was = counting != nullptr && *counting;
    if (was) *counting = false;
    transmit_uncounted(f);
    if (was) *counting = true;
  }
  void transmit_uncounted(std::span<const std::uint8_t> f) {
    q.emplace_back(f.begin(), f.end());
    if (watch == nullptr) return;
    const auto p = wire::parse_segment(f);
    if (!p) return;
    const auto key = from_client ? std::make_pair(p->src_port, p->dst_port)
                                 : std::make_pair(p->dst_port, p->src_port);
    const auto it = watch->find(key);
    if (it != watch->end()) it->second = p->end_seq();
  }
};

inline Identity identity(std::uint32_t addr, std::uint8_t mac_last, std::uint8_t peer_last) {
  Identity id;
  id.addr = addr;
  id.mac = {2, 0, 0, 0, 0, mac_last};
  id.peer_mac = {2, 0, 0, 0, 0, peer_last};
  return id;
}

// Small socket buffers: the connections carry no data, and 128 KiB receive rings zeroed per
// connection would be most of the fill time.
inline Config small_buffers() {
  Config c;
  c.tcp_rmem = {4096, 4096, 4096};
  c.tcp_wmem = {4096, 4096, 4096};
  return c;
}

// The client: room for n TIME_WAIT entries and a batch of live connections, the flow table
// sized for exactly that. The server: a few connections at a time.
inline Config client_config(std::uint64_t n) {
  Config c = small_buffers();
  const std::uint64_t cap = n + 1024;
  c.flow_table_capacity = static_cast<std::int32_t>(cap);
  c.tcp_max_tw_buckets = static_cast<std::int32_t>(n);
  c.max_connections = 256;
  c.peer_table_size = 64;
  c.random_seed = 7;
  return c;
}
inline Config server_config() {
  Config c = small_buffers();
  c.flow_table_capacity = 4096;
  c.max_connections = 256;
  c.peer_table_size = 64;
  c.random_seed = 8;
  return c;
}

struct Pair {
  std::uint64_t now = 0;
  Queue c2s, s2c;
  // Watched connections: (local port, server port) -> client's / server's last end_seq.
  std::map<std::pair<std::uint16_t, std::uint16_t>, std::uint32_t> client_nxt, server_nxt;
  Stack server;
  Stack client;
  std::uint64_t opened = 0;

  Pair(std::uint64_t n, std::uint64_t server_ports)
      : server(server_config(), identity(kServerAddr, 1, 2), s2c),
        client(client_config(n), identity(kClientAddr, 2, 1), c2s) {
    c2s.watch = &client_nxt;
    c2s.from_client = true;
    s2c.watch = &server_nxt;
    Callbacks scb;
    scb.on_peer_closed = [this](ConnId id) { server.close(id); };
    for (std::uint64_t p = 0; p < server_ports; ++p) {
      server.listen(static_cast<std::uint16_t>(kFirstServerPort + p), scb);
    }
  }

  void watch(std::uint64_t i) {
    client_nxt[ports_of(i)] = 0;
    server_nxt[ports_of(i)] = 0;
  }

  // Delivers frames (1 us per round) until both directions are idle and no connection is
  // left, firing timers when only they remain. Bounded: false if it did not settle.
  bool settle() {
    for (int round = 0; round < 100000; ++round) {
      now += 1;
      while (!c2s.q.empty() || !s2c.q.empty()) {
        std::deque<std::vector<std::uint8_t>> a, b;
        a.swap(c2s.q);
        b.swap(s2c.q);
        for (const auto& f : a) server.input(f, now);
        for (const auto& f : b) client.input(f, now);
      }
      if (client.connection_count() == 0 && server.connection_count() == 0) return true;
      now = std::max(now, std::min(client.next_wakeup(), server.next_wakeup()));
      client.advance(now);
      server.advance(now);
    }
    return false;
  }

  // Opens connections [opened, opened + count), each closed by the client once connected.
  // Returns how many connect() calls failed.
  std::uint64_t open_batch(std::uint64_t count) {
    std::uint64_t failed = 0;
    for (std::uint64_t k = 0; k < count; ++k, ++opened) {
      const auto [lport, rport] = ports_of(opened);
      ConnectOptions o;
      o.local_port = lport;
      o.callbacks.on_connected = [this](ConnId id) { client.close(id); };
      if (!client.connect(kServerAddr, rport, std::move(o)).ok()) ++failed;
    }
    return failed;
  }

  // n TIME_WAIT entries on the client, in batches of `batch`. Returns false on any failure.
  bool fill(std::uint64_t n, std::uint64_t batch = 128) {
    while (opened < n) {
      if (open_batch(std::min(batch, n - opened)) != 0) return false;
      if (!settle()) return false;
    }
    return true;
  }
};

// A segment from the server's side of connection i to the client, without timestamps (so
// PAWS does not decide).
inline std::vector<std::uint8_t> to_client(std::uint64_t i, std::uint32_t seq, std::uint32_t ack,
                                           std::uint8_t flags) {
  const auto [lport, rport] = ports_of(i);
  wire::SegmentSpec s;
  s.src_addr = kServerAddr;
  s.dst_addr = kClientAddr;
  s.eth_src = {2, 0, 0, 0, 0, 1};
  s.eth_dst = {2, 0, 0, 0, 0, 2};
  s.tcp.src_port = rport;
  s.tcp.dst_port = lport;
  s.tcp.seq = seq;
  s.tcp.ack = ack;
  s.tcp.flags = flags;
  s.tcp.window = 65535;
  std::vector<std::uint8_t> out(256);
  out.resize(wire::build_segment(out, s));
  return out;
}

// Resident set size in bytes (/proc/self/statm), 0 if unavailable.
inline std::uint64_t rss_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long long size = 0, resident = 0;
  const int got = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  return got == 2 ? resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)) : 0;
}

}  // namespace twtcp::twfill
