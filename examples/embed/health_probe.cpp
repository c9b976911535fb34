// examples/embed/health_probe.cpp: twtcp embedded in an appliance, built only against the
// installed library (pkg-config libtwtcp). At boot the appliance checks that the TIME_WAIT
// policy it was configured with does what its operator expects: a probe Stack opens short
// connections to the service Stack over an in-memory wire until the 10-port range runs out,
// then prints the Linux counters an operator would read with nstat.
//
//   c++ health_probe.cpp $(pkg-config --cflags --libs libtwtcp) -o health_probe
//   ./health_probe [sysctl-style lines...]   e.g. ./health_probe net.ipv4.tcp_tw_reuse=1
#include <twtcp/config.hpp>
#include <twtcp/stack.hpp>

#include <cstdio>
#include <deque>
#include <vector>

namespace {

// The wire: frames wait here until the other Stack's turn (a TxSink must not call back
// into a Stack synchronously).
struct Wire : twtcp::TxSink {
  std::deque<std::vector<std::uint8_t>> frames;
  void transmit(std::span<const std::uint8_t> f) override { frames.emplace_back(f.begin(), f.end()); }
};

twtcp::Identity identity(std::uint32_t addr, std::uint8_t mac) {
  twtcp::Identity id;
  id.addr = addr;
  id.mac = {2, 0, 0, 0, 0, mac};
  id.peer_mac = {2, 0, 0, 0, 0, static_cast<std::uint8_t>(mac ^ 3)};
  return id;
}

}  // namespace

int main(int argc, char** argv) {
  twtcp::Config cfg;
  cfg.max_connections = 64;
  cfg.flow_table_capacity = 256;
  cfg.random_seed = 1;
  for (int i = 1; i < argc; ++i) {
    if (auto r = twtcp::apply_set(cfg, argv[i]); !r.ok()) {
      std::fprintf(stderr, "health_probe: %s\n", r.message().c_str());
      return 2;
    }
  }
  if (auto r = twtcp::apply_set(cfg, "net.ipv4.ip_local_port_range=40000 40009"); !r.ok()) return 2;
  if (auto r = twtcp::validate(cfg); !r.ok()) {
    std::fprintf(stderr, "health_probe: %s\n", r.message().c_str());
    return 2;
  }

  constexpr std::uint32_t kService = 0xC6120001, kProbe = 0xC6120002;  // 198.18.0.1 / .2
  Wire to_service, to_probe;
  twtcp::Stack service(cfg, identity(kService, 1), to_probe);
  twtcp::Stack probe(cfg, identity(kProbe, 2), to_service);

  twtcp::ListenerCallbacks lcb;
  lcb.on_peer_closed = [&](twtcp::ConnId id) { service.close(id); };
  service.listen(8080, lcb);

  std::uint64_t now = 1'000'000, connected = 0, refused = 0;
  twtcp::ConnectOptions opts;
  opts.callbacks.on_connected = [&](twtcp::ConnId id) {
    ++connected;
    probe.close(id);  // the probe closes first: TIME_WAIT lands on the probe
  };
  // One virtual second of probing, 1 ms steps: connect, then shuttle frames both ways.
  for (int step = 0; step < 1000; ++step, now += 1000) {
    probe.advance(now);
    service.advance(now);
    if (probe.connection_count() == 0) {
      if (!probe.connect(kService, 8080, opts).ok()) ++refused;
    }
    for (int hop = 0; hop < 64 && !(to_service.frames.empty() && to_probe.frames.empty()); ++hop) {
      while (!to_service.frames.empty()) {
        auto f = std::move(to_service.frames.front());
        to_service.frames.pop_front();
        service.input(f, now);
      }
      while (!to_probe.frames.empty()) {
        auto f = std::move(to_probe.frames.front());
        to_probe.frames.pop_front();
        probe.input(f, now);
      }
    }
  }
  std::printf("connected %llu, EADDRNOTAVAIL %llu, TIME_WAIT entries %zu\n",
              static_cast<unsigned long long>(connected), static_cast<unsigned long long>(refused),
              probe.timewait_count());
  probe.counters().for_each([](std::string_view group, std::string_view name, std::uint64_t v) {
    if (v != 0) std::printf("%.*s%.*s %llu\n", static_cast<int>(group.size()), group.data(),
                            static_cast<int>(name.size()), name.data(),
                            static_cast<unsigned long long>(v));
  });
  return connected > 0 ? 0 : 1;
}
