// twtcp-bench: measurements of whole twtcp stacks over DPDK ethdevs.
//
// port-exhaustion: a client Stack and a server Stack in one process, joined by two net_ring
// ethdevs wired back to back, run a connect -> close loop (the client closes first, so its
// side holds TIME_WAIT, as in SPEC §9) with a 10-port local range, preset by preset, and
// count per second the connects that succeed and those that find no free port.
//
// cps / throughput: the macro benchmarks. The client Stack on one lcore, the server Stack on
// another, over the same ring pair; HTTP/1.0-style short connections (cps) or one long
// connection (throughput). Then twtcp-kernel-baseline does the same work with the Linux kernel
// on the same two CPUs, and both figures and their ratio are printed.
#include <malloc.h>
#include <rte_eal.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mempool.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "config/presets.hpp"
#include "dpdk/clock.hpp"
#include "dpdk/datapath.hpp"
#include "dpdk/eal.hpp"
#include "dpdk/port.hpp"
#include "twtcp/config.hpp"
#include "twtcp/stack.hpp"

extern char** environ;

namespace {

constexpr const char* kUsage =
    "usage: twtcp-bench [EAL args --] port-exhaustion|cps|throughput [options]\n"
    "\n"
    "port-exhaustion [options]\n"
    "Client and server twtcp Stacks in one process, joined by two net_ring ethdevs (no NIC,\n"
    "no hugepages), run a connect -> close loop (client closes first) for each preset and\n"
    "count successful connects and EADDRNOTAVAIL per second.\n"
    "  --preset NAME|FILE  a compiled-in preset (configs/NAME.conf) or a sysctl.conf file;\n"
    "                      repeatable; default all six presets\n"
    "  --seconds S         connect loop length per preset, 1..600 (default 5)\n"
    "  --ports LOW-HIGH    client net.ipv4.ip_local_port_range (default 40000-40009)\n"
    "  --set KEY=VALUE     applied to both stacks after the preset and --ports; repeatable\n"
    "  --concurrency N     connections in flight at most, 1..65536; default the number of\n"
    "                      ports, so only TIME_WAIT (not a live connection) can hold the\n"
    "                      last free port and every EADDRNOTAVAIL is exhaustion by TIME_WAIT\n"
    "  --retry-us US       after a failed connect(), try again when a connection ends or\n"
    "                      after US microseconds, 1..1000000 (default 1000)\n"
    "  --out DIR           per_second.csv, summary.json, connections_per_second.svg/.png\n"
    "                      (default build/port-exhaustion)\n"
    "  --no-plot           skip gnuplot\n"
    "  --seed N            twtcp.random_seed of the client (server N+1); default: from the TSC\n"
    "  --help, --version\n"
    "\n"
    "cps [options]         HTTP/1.0-style connections: connect, request (34 B), response\n"
    "                      (168 B), close; the client Stack on the main lcore, the server\n"
    "                      Stack on a worker lcore; then twtcp-kernel-baseline cps with the\n"
    "                      same close side, tw_reuse, port range, concurrency and seconds;\n"
    "                      prints both connections/s, twtcp/kernel, and the TCP segments\n"
    "                      each sent per connection (both ends). Default matrix:\n"
    "                      --close client|server x --tw-reuse 1|0 (4 rows)\n"
    "  --close client|server  who closes first (its side keeps TIME_WAIT); repeatable\n"
    "  --tw-reuse 0|1|2    net.ipv4.tcp_tw_reuse of both runs; repeatable (2 = loopback\n"
    "                      only: on for the kernel's 127.0.0.1, off for twtcp's 198.18.0.x)\n"
    "  --concurrency N     connections the client keeps open, 1..10000 (default 64)\n"
    "  --ports LOW-HIGH    client port range of both runs (default 1024-65535)\n"
    "soak [--seconds S] [--run-seconds N]  the cps workload at full rate for S seconds in\n"
    "                      all (default 60), a run of N seconds (default 5) per preset, the\n"
    "                      six presets in turn with the closing side alternating; after each\n"
    "                      run both mbuf pools must be back to their start, heap in use\n"
    "                      within 1 MiB of its value after the first run, RSS within 16 MiB\n"
    "                      of the first cycle's largest (judged from the second cycle on),\n"
    "                      with no failed connection, reset, timeout or TX drop. Exit 1 if\n"
    "                      anything drifted.\n"
    "throughput [options]  one connection, the client writes, the server discards (bytes/s),\n"
    "                      then twtcp-kernel-baseline throughput\n"
    "common to cps and throughput:\n"
    "  --seconds S         timed period per row, 1..600 (default 5)\n"
    "  --preset NAME|FILE  twtcp configuration (default linux-6: Linux 6.18's TIME_WAIT rules,\n"
    "                      60 s TIME_WAIT, tw_reuse delay 1000 ms)\n"
    "  --set KEY=VALUE     applied to both stacks after the preset; repeatable\n"
    "  --kernel-baseline PATH  default: ../bench/twtcp-kernel-baseline next to this program\n"
    "  --no-kernel         twtcp only\n"
    "  --json FILE         every figure and counter as JSON\n"
    "  --seed N            as for port-exhaustion\n"
    "\n"
    "Without EAL args: --no-huge --no-pci --no-shconf -m 512 -l 0 (cps, throughput: -l 0,1,\n"
    "and 2 MiB hugepages instead of --no-huge when a hugetlbfs is mounted and 256 of them are\n"
    "free: +7-9 % CPS here, as TLB misses on mbufs go) --log-level error\n"
    "--file-prefix twtcp-bench-PID. Ctrl-C stops early, writes the results so far and exits 130;\n"
    "a second Ctrl-C exits at once. Exit status: 0 ok, 1 DPDK or I/O failure, 2 bad flags\n"
    "(one line on stderr), 130 interrupted.\n";

constexpr std::uint32_t kServerAddr = 0xC6120001;  // 198.18.0.1
constexpr std::uint32_t kClientAddr = 0xC6120002;  // 198.18.0.2
constexpr std::uint16_t kServerPort = 5000;
constexpr std::uint64_t kSecondUs = 1'000'000;
// connect() calls per preset at most, whatever the clock says (the loop's count bound).
constexpr std::uint64_t kMaxConnectCalls = 50'000'000;
// How long in-flight connections may take to finish after the timed period.
constexpr std::uint64_t kDrainUs = 2 * kSecondUs;

// The presets in the order the comparison reads best: the problem, the two 3.10 fixes,
// today's default, the two ways out.
constexpr std::string_view kDefaultOrder[] = {
    "linux-3.10", "linux-3.10-reuse", "linux-3.10-recycle", "linux-6", "no-timewait", "loadgen"};

volatile std::sig_atomic_t g_interrupts = 0;
extern "C" void on_sigint(int) {
  g_interrupts = g_interrupts + 1;
  if (g_interrupts >= 2) _exit(130);
}

int fail(const std::string& msg, int code = 2) {
  std::fprintf(stderr, "twtcp-bench: %s\n", msg.c_str());
  return code;
}

template <typename T>
bool parse_uint(std::string_view s, T lo, T hi, T& out) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || v < lo || v > hi) return false;
  out = static_cast<T>(v);
  return true;
}

struct PresetSource {
  std::string name;  // as shown in the table
  std::string text;  // sysctl.conf text
  std::string origin;
};

struct Options {
  std::vector<PresetSource> presets;
  unsigned seconds = 5;
  twtcp::PortRange ports{40000, 40009};
  std::vector<std::string> sets;
  unsigned concurrency = 0;  // 0 = the number of local ports
  unsigned retry_us = 1000;
  std::string out = "build/port-exhaustion";
  bool plot = true;
  std::uint64_t seed = 0;
};

std::optional<PresetSource> resolve_preset(const std::string& arg, std::string* error) {
  if (const twtcp::Preset* p = twtcp::find_preset(arg)) {
    return PresetSource{arg, std::string(p->text), "configs/" + arg + ".conf"};
  }
  if (arg.find('/') != std::string::npos || arg.ends_with(".conf")) {
    std::ifstream f(arg);
    if (!f) {
      *error = "--preset " + arg + ": cannot open: " + std::strerror(errno);
      return std::nullopt;
    }
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::string name = std::filesystem::path(arg).stem().string();
    return PresetSource{name, text, arg};
  }
  std::string known;
  for (const auto& p : twtcp::presets()) known += (known.empty() ? "" : ", ") + std::string(p.name);
  *error = "--preset: unknown preset '" + arg + "' (known: " + known + "; or a path to a .conf)";
  return std::nullopt;
}

// The configuration of one end: the preset, the client's port range, the user's --set lines.
std::optional<twtcp::Config> build_config(const PresetSource& src, const Options& opt, bool client,
                                          std::string* error) {
  twtcp::ConfigLoader loader;
  if (auto r = loader.load_string(src.text, src.origin); !r) {
    *error = r.message();
    return std::nullopt;
  }
  if (client) {
    const std::string range = "net.ipv4.ip_local_port_range=" + std::to_string(opt.ports.low) +
                              " " + std::to_string(opt.ports.high);
    if (auto r = loader.apply_set(range); !r) {
      *error = "--ports: " + r.message();
      return std::nullopt;
    }
  }
  for (const auto& s : opt.sets) {
    if (auto r = loader.apply_set(s); !r) {
      *error = r.message();
      return std::nullopt;
    }
  }
  if (loader.origin("twtcp.random_seed").empty()) {
    const std::uint64_t seed = client ? opt.seed : opt.seed + 1;
    (void)loader.apply_set("twtcp.random_seed=" + std::to_string(seed == 0 ? 1 : seed));
  }
  if (auto r = loader.finish(); !r) {
    *error = src.name + ": " + r.message();
    return std::nullopt;
  }
  return loader.config();
}

// Returns 0 and fills `opt`, or the exit status after printing one line.
int parse_flags(const std::vector<std::string>& args, Options& opt) {
  if (args.empty())
    return fail("missing subcommand (port-exhaustion, cps, throughput, soak; see --help)");
  if (args[0] == "--help" || args[0] == "-h") {
    std::fputs(kUsage, stdout);
    return -1;
  }
  if (args[0] == "--version") {
    std::puts("twtcp-bench 0.1.0");
    return -1;
  }
  if (args[0] != "port-exhaustion") {
    return fail("unknown subcommand '" + args[0] +
                "' (port-exhaustion, cps, throughput; see --help)");
  }
  std::vector<std::string> preset_args;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string* { return i + 1 < args.size() ? &args[++i] : nullptr; };
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return -1;
    } else if (a == "--preset") {
      const std::string* v = value();
      if (v == nullptr) return fail("--preset needs NAME or FILE");
      preset_args.push_back(*v);
    } else if (a == "--seconds") {
      const std::string* v = value();
      if (v == nullptr || !parse_uint<unsigned>(*v, 1, 600, opt.seconds))
        return fail("--seconds needs a whole number of seconds 1..600");
    } else if (a == "--ports") {
      const std::string* v = value();
      const auto dash = v == nullptr ? std::string::npos : v->find('-');
      if (dash == std::string::npos ||
          !parse_uint<std::uint16_t>(std::string_view(*v).substr(0, dash), 1, 65535,
                                     opt.ports.low) ||
          !parse_uint<std::uint16_t>(std::string_view(*v).substr(dash + 1), 1, 65535,
                                     opt.ports.high) ||
          opt.ports.low > opt.ports.high)
        return fail("--ports needs LOW-HIGH, 1 <= LOW <= HIGH <= 65535");
    } else if (a == "--set") {
      const std::string* v = value();
      if (v == nullptr) return fail("--set needs KEY=VALUE");
      twtcp::Config scratch;
      if (auto r = twtcp::apply_set(scratch, *v); !r) return fail(r.message());
      opt.sets.push_back(*v);
    } else if (a == "--concurrency") {
      const std::string* v = value();
      if (v == nullptr || !parse_uint<unsigned>(*v, 1, 65536, opt.concurrency))
        return fail("--concurrency needs a number 1..65536");
    } else if (a == "--retry-us") {
      const std::string* v = value();
      if (v == nullptr || !parse_uint<unsigned>(*v, 1, 1'000'000, opt.retry_us))
        return fail("--retry-us needs a number of microseconds 1..1000000");
    } else if (a == "--out") {
      const std::string* v = value();
      if (v == nullptr || v->empty()) return fail("--out needs a DIR");
      opt.out = *v;
    } else if (a == "--no-plot") {
      opt.plot = false;
    } else if (a == "--seed") {
      const std::string* v = value();
      if (v == nullptr || !parse_uint<std::uint64_t>(*v, 1, UINT64_MAX - 1, opt.seed))
        return fail("--seed needs a number 1..18446744073709551614");
    } else {
      return fail("unknown argument '" + a + "' (see --help)");
    }
  }
  if (opt.concurrency == 0) opt.concurrency = opt.ports.high - opt.ports.low + 1u;
  if (preset_args.empty()) {
    for (auto name : kDefaultOrder) preset_args.emplace_back(name);
  }
  for (const auto& p : preset_args) {
    std::string error;
    auto src = resolve_preset(p, &error);
    if (!src) return fail(error);
    opt.presets.push_back(std::move(*src));
  }
  // Every configuration is checked before EAL starts, so bad input costs no DPDK start-up.
  for (const auto& p : opt.presets) {
    std::string error;
    if (!build_config(p, opt, true, &error) || !build_config(p, opt, false, &error))
      return fail(error);
  }
  return 0;
}

struct Second {
  std::uint64_t connects = 0, eaddrnotavail = 0, timeouts = 0, other = 0;
  std::uint64_t timewait = 0, tw_recycled = 0, tw_killed = 0, tw_overflow = 0;
};

struct Result {
  std::string name, origin;
  twtcp::Config client_cfg;
  std::vector<Second> seconds;
  std::uint64_t successes = 0, eaddrnotavail = 0, timeouts = 0, other = 0;
  std::uint64_t timewait_end = 0, connect_calls = 0;
  double elapsed_s = 0;
  twtcp::StackCounters client, server;
  twtcp::dpdk::DatapathStats client_dp, server_dp;
  bool interrupted = false;

  [[nodiscard]] double rate() const { return elapsed_s > 0 ? successes / elapsed_s : 0; }
  [[nodiscard]] double median() const {
    if (seconds.empty()) return 0;
    std::vector<std::uint64_t> v;
    for (const auto& s : seconds) v.push_back(s.connects);
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? static_cast<double>(v[n / 2]) : (v[n / 2 - 1] + v[n / 2]) / 2.0;
  }
};

// Counts from the Stack callbacks. Everything the callbacks touch lives here.
struct Tally {
  twtcp::Stack* client = nullptr;
  twtcp::Stack* server = nullptr;
  std::uint64_t in_flight = 0;
  std::uint64_t closes = 0;  // connections that ended (each may have freed a port)
  Second now;                // the current second's counts
};

twtcp::Identity identity(std::uint32_t addr, const twtcp::dpdk::Port& self,
                         const twtcp::dpdk::Port& peer) {
  twtcp::Identity id;
  id.addr = addr;
  id.mac = self.mac();
  id.peer_mac = peer.mac();
  return id;
}

Result run_preset(const PresetSource& src, const Options& opt, twtcp::dpdk::Port& cport,
                  twtcp::dpdk::Port& sport, twtcp::dpdk::TscClock& clock) {
  std::string error;
  Result res;
  res.name = src.name;
  res.origin = src.origin;
  res.client_cfg = *build_config(src, opt, true, &error);  // checked in parse_flags
  const twtcp::Config server_cfg = *build_config(src, opt, false, &error);

  twtcp::dpdk::Datapath cdp(cport), sdp(sport);
  (void)cdp.discard_rx();
  (void)sdp.discard_rx();
  std::uint64_t now = clock.now_us();
  twtcp::Stack client(res.client_cfg, identity(kClientAddr, cport, sport), cdp.tx(), now);
  twtcp::Stack server(server_cfg, identity(kServerAddr, sport, cport), sdp.tx(), now);
  Tally t;
  t.client = &client;
  t.server = &server;

  twtcp::Callbacks scb;
  scb.on_peer_closed = [&t](twtcp::ConnId id) { t.server->close(id); };
  server.listen(kServerPort, scb);

  twtcp::ConnectOptions copt;
  copt.callbacks.on_connected = [&t](twtcp::ConnId id) {
    ++t.now.connects;
    t.client->close(id);  // the client closes first: its side keeps the TIME_WAIT
  };
  copt.callbacks.on_closed = [&t](twtcp::ConnId, twtcp::CloseReason why) {
    --t.in_flight;
    ++t.closes;
    if (why == twtcp::CloseReason::kTimeout)
      ++t.now.timeouts;
    else if (why != twtcp::CloseReason::kNormal)
      ++t.now.other;
  };
  // One Callbacks for every connection of the run: no copy or allocation per connect().
  copt.shared_callbacks = std::make_shared<const twtcp::Callbacks>(std::move(copt.callbacks));

  const auto& p = res.client_cfg;
  std::printf(
      "== %s (%s): kernel_model %s, tcp_tw_reuse %d (delay %d ms), tcp_tw_recycle %d, "
      "tcp_max_tw_buckets %d, ports %u-%u\n",
      src.name.c_str(), src.origin.c_str(), std::string(twtcp::to_string(p.kernel_model)).c_str(),
      p.tcp_tw_reuse, p.tcp_tw_reuse_delay, p.tcp_tw_recycle ? 1 : 0, p.tcp_max_tw_buckets,
      p.ip_local_port_range.low, p.ip_local_port_range.high);

  const std::uint64_t start = now;
  const std::uint64_t end = start + opt.seconds * kSecondUs;
  std::uint64_t second_end = start + kSecondUs;
  // After a failed connect() the next try waits until a connection ends (its port may be
  // free now: no-timewait, or a live connection holding the last port) or retry_us passes
  // (a TIME_WAIT entry may have become reusable or expired). Linux callers spin instead.
  std::uint64_t next_attempt = start;
  std::uint64_t closes_at_failure = 0;
  twtcp::StackCounters before = client.counters();
  auto close_second = [&] {
    const twtcp::StackCounters c = client.counters();
    t.now.timewait = client.timewait_count();
    t.now.tw_recycled = c.TWRecycled - before.TWRecycled;
    t.now.tw_killed = c.TWKilled - before.TWKilled;
    t.now.tw_overflow = c.TCPTimeWaitOverflow - before.TCPTimeWaitOverflow;
    before = c;
    res.seconds.push_back(t.now);
    const Second& s = res.seconds.back();
    std::printf(
        "  %-20s s%-3zu connects %7llu  EADDRNOTAVAIL %6llu  timeouts/other %llu/%llu"
        "  TIME_WAIT %6llu  TWRecycled +%-6llu\n",
        src.name.c_str(), res.seconds.size(), (unsigned long long)s.connects,
        (unsigned long long)s.eaddrnotavail, (unsigned long long)s.timeouts,
        (unsigned long long)s.other, (unsigned long long)s.timewait,
        (unsigned long long)s.tw_recycled);
    std::fflush(stdout);
    t.now = Second{};
    second_end += kSecondUs;
  };
  while (now < end && g_interrupts == 0) {
    while (t.in_flight < opt.concurrency &&
           (now >= next_attempt || t.closes != closes_at_failure) &&
           res.connect_calls < kMaxConnectCalls) {
      ++res.connect_calls;
      const twtcp::ConnectResult r = client.connect(kServerAddr, kServerPort, copt);
      if (r.ok()) {
        ++t.in_flight;
        continue;
      }
      if (r.error == twtcp::kEaddrnotavail)
        ++t.now.eaddrnotavail;
      else
        ++t.now.other;
      next_attempt = now + opt.retry_us;
      closes_at_failure = t.closes;
    }
    cdp.poll(client, now);
    sdp.poll(server, now);
    now = clock.now_us();
    if (now >= second_end || now >= end) close_second();
  }
  res.interrupted = g_interrupts != 0;
  if (res.interrupted && now > second_end - kSecondUs) close_second();  // the partial second
  res.elapsed_s = static_cast<double>(std::min(now, end) - start) / kSecondUs;
  res.timewait_end = client.timewait_count();

  // Let the last handshakes and FINs finish so the counters describe whole connections.
  const std::uint64_t drain_end = now + kDrainUs;
  while (t.in_flight > 0 && now < drain_end && g_interrupts < 2) {
    cdp.poll(client, now);
    sdp.poll(server, now);
    now = clock.now_us();
  }
  for (const auto& s : res.seconds) {
    res.successes += s.connects;
    res.eaddrnotavail += s.eaddrnotavail;
    res.timeouts += s.timeouts;
    res.other += s.other;
  }
  res.client = client.counters();
  res.server = server.counters();
  res.client_dp = cdp.stats();
  res.server_dp = sdp.stats();
  return res;
}

std::string json_escape(std::string_view s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      o += buf;
      continue;
    }
    o += c;
  }
  return o;
}

// {"Tcp":{...},"TcpExt":{...},"twtcp":{...}}: the Stack's counters by Linux MIB name, plus
// the datapath's own under "twtcp".
std::string counters_json(const twtcp::StackCounters& c, const twtcp::dpdk::DatapathStats& d) {
  std::string groups[3];  // Tcp, TcpExt, twtcp
  c.for_each([&](std::string_view group, std::string_view name, std::uint64_t v) {
    std::string& g = group == "Tcp" ? groups[0] : group == "TcpExt" ? groups[1] : groups[2];
    g += (g.empty() ? "" : ",") + std::string("\"") + std::string(name) + "\":" + std::to_string(v);
  });
  const std::pair<const char*, std::uint64_t> dp[] = {
      {"rx_frames", d.rx_frames},
      {"rx_multiseg_dropped", d.rx_multiseg_dropped},
      {"tx_frames", d.tx_frames},
      {"tx_bursts", d.tx_bursts},
      {"tx_dropped_full", d.tx_dropped_full},
      {"tx_dropped_no_mbuf", d.tx_dropped_no_mbuf},
      {"tx_dropped_oversize", d.tx_dropped_oversize},
      {"polls", d.polls}};
  for (const auto& [k, v] : dp) {
    groups[2] += (groups[2].empty() ? "" : ",") + std::string("\"") + k + "\":" + std::to_string(v);
  }
  return "{\"Tcp\":{" + groups[0] + "},\"TcpExt\":{" + groups[1] + "},\"twtcp\":{" + groups[2] +
         "}}";
}

bool write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  return static_cast<bool>(f);
}

bool write_outputs(const std::vector<Result>& results, const Options& opt) {
  namespace fs = std::filesystem;
  const fs::path dir(opt.out);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    std::fprintf(stderr, "twtcp-bench: --out %s: %s\n", opt.out.c_str(), ec.message().c_str());
    return false;
  }
  std::string csv =
      "preset,second,connects,eaddrnotavail,timeouts,other_failures,timewait_entries,"
      "tw_recycled,tw_killed,tw_overflow\n";
  std::string dat;  // one gnuplot data block per preset
  for (const auto& r : results) {
    dat += "# " + r.name + "\n";
    for (std::size_t i = 0; i < r.seconds.size(); ++i) {
      const Second& s = r.seconds[i];
      char line[256];
      std::snprintf(line, sizeof line, "%s,%zu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu\n",
                    r.name.c_str(), i + 1, (unsigned long long)s.connects,
                    (unsigned long long)s.eaddrnotavail, (unsigned long long)s.timeouts,
                    (unsigned long long)s.other, (unsigned long long)s.timewait,
                    (unsigned long long)s.tw_recycled, (unsigned long long)s.tw_killed,
                    (unsigned long long)s.tw_overflow);
      csv += line;
      dat += std::to_string(i + 1) + " " + std::to_string(s.connects) + "\n";
    }
    dat += "\n\n";
  }
  std::string json = "{\n  \"benchmark\": \"port-exhaustion\",\n";
  json += "  \"ports\": \"" + std::to_string(opt.ports.low) + "-" + std::to_string(opt.ports.high) +
          "\",\n";
  json += "  \"seconds_per_preset\": " + std::to_string(opt.seconds) + ",\n";
  json += "  \"concurrency\": " + std::to_string(opt.concurrency) + ",\n";
  json += "  \"retry_us\": " + std::to_string(opt.retry_us) + ",\n  \"presets\": [";
  for (std::size_t k = 0; k < results.size(); ++k) {
    const Result& r = results[k];
    char nums[512];
    std::snprintf(nums, sizeof nums,
                  "\"elapsed_s\": %.3f, \"connections_per_second\": %.1f, "
                  "\"median_per_second\": %.1f, \"successes\": %llu, \"eaddrnotavail\": %llu, "
                  "\"timeouts\": %llu, \"other_failures\": %llu, \"timewait_entries_end\": %llu, "
                  "\"connect_calls\": %llu, \"interrupted\": %s",
                  r.elapsed_s, r.rate(), r.median(), (unsigned long long)r.successes,
                  (unsigned long long)r.eaddrnotavail, (unsigned long long)r.timeouts,
                  (unsigned long long)r.other, (unsigned long long)r.timewait_end,
                  (unsigned long long)r.connect_calls, r.interrupted ? "true" : "false");
    std::string per_second;
    for (const auto& s : r.seconds)
      per_second += (per_second.empty() ? "" : ",") + std::to_string(s.connects);
    json += std::string(k ? "," : "") + "\n    {\"name\": \"" + json_escape(r.name) +
            "\", \"config\": \"" + json_escape(r.origin) + "\", " + nums +
            ",\n     \"connects_per_second\": [" + per_second + "]" +
            ",\n     \"client\": " + counters_json(r.client, r.client_dp) +
            ",\n     \"server\": " + counters_json(r.server, r.server_dp) + "}";
  }
  json += "\n  ]\n}\n";

  bool ok = write_file(dir / "per_second.csv", csv) && write_file(dir / "summary.json", json) &&
            write_file(dir / "connections_per_second.dat", dat);
  if (!ok) {
    std::fprintf(stderr, "twtcp-bench: cannot write into %s\n", opt.out.c_str());
    return false;
  }
  std::printf("wrote %s/per_second.csv and %s/summary.json\n", opt.out.c_str(), opt.out.c_str());
  if (!opt.plot || results.empty()) return true;

  // Log scale: the presets differ by three orders of magnitude. A second with no connect is
  // drawn at 0.5 and labelled 0, so "10 then 0" stays visible.
  std::string titles;
  for (const auto& r : results) titles += (titles.empty() ? "" : " ") + r.name;
  std::string gp;
  gp += "set datafile commentschars '#'\n";
  gp += "names = '" + titles + "'\n";
  gp += "set title 'twtcp port exhaustion: " + std::to_string(opt.ports.high - opt.ports.low + 1) +
        " local ports, client closes first'\n";
  gp += "set xlabel 'second'\nset ylabel 'successful connects per second'\n";
  gp += "set logscale y\nset yrange [0.4:*]\nset ytics add ('0' 0.5)\nset grid\n";
  gp += "set key outside right\nset xtics 1\n";
  gp += "plotcmd = \"plot for [i=0:" + std::to_string(results.size() - 1) +
        "] 'connections_per_second.dat' index i using 1:($2 > 0 ? $2 : 0.5) with linespoints "
        "lw 2 title word(names, i + 1)\"\n";
  gp += "set terminal svg size 900,500 dynamic\nset output 'connections_per_second.svg'\n";
  gp += "@plotcmd\nset output\n";
  gp +=
      "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
      "  set terminal pngcairo size 900,500\n  set output 'connections_per_second.png'\n"
      "  @plotcmd\n  set output\n"
      "} else { if (strstrt(GPVAL_TERMINALS, ' png ') > 0) {\n"
      "  set terminal png size 900,500\n  set output 'connections_per_second.png'\n"
      "  @plotcmd\n  set output\n} }\n";
  if (!write_file(dir / "connections_per_second.gp", gp)) return false;

  const std::string dir_s = dir.string();
  const char* argv[] = {"gnuplot", "-e", nullptr, "connections_per_second.gp", nullptr};
  const std::string cd = "cd '" + dir_s + "'";
  argv[2] = cd.c_str();
  // gnuplot's `cd` makes the script's relative paths land in DIR without a shell.
  pid_t pid = 0;
  if (posix_spawnp(&pid, "gnuplot", nullptr, nullptr, const_cast<char**>(argv), environ) != 0) {
    std::printf("gnuplot not found: no plot (apt-get install gnuplot-nox)\n");
    return true;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "twtcp-bench: gnuplot failed on %s/connections_per_second.gp\n",
                 dir_s.c_str());
    return false;
  }
  std::printf("plot: %s/connections_per_second.svg%s\n", dir_s.c_str(),
              std::filesystem::exists(dir / "connections_per_second.png")
                  ? (" and " + dir_s + "/connections_per_second.png").c_str()
                  : "");
  return true;
}

void print_table(const std::vector<Result>& results, unsigned ports) {
  std::printf("\nport exhaustion, %u local ports, client closes first (per preset):\n", ports);
  std::printf("%-20s %9s %9s %10s %14s %14s %10s %11s %9s %20s\n", "preset", "conn/s", "median/s",
              "successes", "EADDRNOTAVAIL", "timeouts/other", "TIME_WAIT", "TWRecycled", "TWKilled",
              "TCPTimeWaitOverflow");
  for (const auto& r : results) {
    char fails[32];
    std::snprintf(fails, sizeof fails, "%llu/%llu", (unsigned long long)r.timeouts,
                  (unsigned long long)r.other);
    std::printf("%-20s %9.1f %9.1f %10llu %14llu %14s %10llu %11llu %9llu %20llu%s\n",
                r.name.c_str(), r.rate(), r.median(), (unsigned long long)r.successes,
                (unsigned long long)r.eaddrnotavail, fails, (unsigned long long)r.timewait_end,
                (unsigned long long)r.client.TWRecycled, (unsigned long long)r.client.TWKilled,
                (unsigned long long)r.client.TCPTimeWaitOverflow,
                r.interrupted ? "  (interrupted)" : "");
  }
}

int port_exhaustion(const Options& opt, const twtcp::dpdk::SplitArgs& split) {
  twtcp::dpdk::Eal eal(split.eal);
  if (!eal.ok()) return fail(eal.error(), 1);
  int rc = 0;
  {
    std::string error;
    auto pair = twtcp::dpdk::create_ring_pair("twtcp_bench", 4096, &error);
    if (!pair) return fail(error, 1);
    twtcp::dpdk::PortOptions po;
    po.rx_descriptors = 4096;  // net_ring ignores the count; sizes the pool to the ring
    po.tx_descriptors = 4096;
    auto cport = twtcp::dpdk::Port::open(pair->a, po, &error);
    auto sport = cport ? twtcp::dpdk::Port::open(pair->b, po, &error) : nullptr;
    if (!cport || !sport) return fail(error, 1);

    twtcp::dpdk::TscClock clock;
    std::printf(
        "twtcp-bench port-exhaustion: client 198.18.0.2 -> server 198.18.0.1:%u over two "
        "%s ethdevs wired back to back; %u s per preset, ports %u-%u, up to %u in flight, "
        "retry after a failed connect when a connection ends or after %u us, seed %llu\n",
        kServerPort, cport->driver().c_str(), opt.seconds, opt.ports.low, opt.ports.high,
        opt.concurrency, opt.retry_us, (unsigned long long)opt.seed);
    std::vector<Result> results;
    for (const auto& p : opt.presets) {
      if (g_interrupts != 0) break;
      results.push_back(run_preset(p, opt, *cport, *sport, clock));
    }
    print_table(results, opt.ports.high - opt.ports.low + 1u);
    if (!write_outputs(results, opt)) rc = 1;
    if (rc == 0 && g_interrupts != 0) rc = 130;
    // Frames still in the rings belong to the pools the ports free.
    twtcp::dpdk::Datapath(*cport).discard_rx();
    twtcp::dpdk::Datapath(*sport).discard_rx();
  }
  return rc;
}

// ---------------------------------------------------------------------------------------------
// cps and throughput: the macro benchmarks. The client Stack runs on the main lcore, the server
// Stack on the first worker lcore (rte_eal_remote_launch), each polling its own end of the
// ring pair; then twtcp-kernel-baseline does the same work with the kernel on the same two
// CPUs, and the ratio is printed. Worker lcores rather than std::thread: EAL pins them (-l),
// and a thread without an lcore id gets no mempool cache, so every mbuf alloc and free would
// go to the shared pool ring, a cost the kernel's side does not pay.

constexpr std::string_view kRequest = "GET / HTTP/1.0\r\nHost: baseline\r\n\r\n";
// The baseline's response body size (twtcp-kernel-baseline --response-bytes default).
constexpr unsigned kResponseBody = 128;
constexpr unsigned kMaxConcurrency = 10000;  // the baseline's limit

struct MacroOptions {
  std::string mode;  // "cps" or "throughput"
  PresetSource preset;
  unsigned seconds = 5;
  unsigned concurrency = 64;
  std::vector<bool> client_closes{true, false};
  std::vector<int> tw_reuses{1, 0};
  twtcp::PortRange ports{1024, 65535};
  std::vector<std::string> sets;
  std::string kernel_baseline;  // empty: next to this program, build/bench/
  bool kernel = true;
  std::string json;
  std::uint64_t seed = 0;
  unsigned run_seconds = 5;  // soak: one preset's run
};

// Returns 0 and fills `m`, -1 after --help, or the exit status after printing one line.
int parse_macro_flags(const std::vector<std::string>& args, MacroOptions& m) {
  m.mode = args[0];
  const bool cps = m.mode == "cps" || m.mode == "soak";
  if (m.mode == "soak") {
    m.seconds = 60;
    m.kernel = false;
  }
  std::string preset = "linux-6";
  bool close_given = false, reuse_given = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string* { return i + 1 < args.size() ? &args[++i] : nullptr; };
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return -1;
    } else if (a == "--seconds") {
      const std::string* v = value();
      if (v == nullptr || !parse_uint<unsigned>(*v, 1, 3600, m.seconds))
        return fail("--seconds needs a whole number of seconds 1..3600");
    } else if (m.mode == "soak" && a == "--run-seconds") {
      const std::string* v = value();
      if (v == nullptr || !parse_uint<unsigned>(*v, 1, 600, m.run_seconds))
        return fail("--run-seconds needs a whole number of seconds 1..600");
    } else if (a == "--preset") {
      const std::string* v = value();
      if (v == nullptr) return fail("--preset needs NAME or FILE");
      preset = *v;
    } else if (a == "--set") {
      const std::string* v = value();
      if (v == nullptr) return fail("--set needs KEY=VALUE");
      twtcp::Config scratch;
      if (auto r = twtcp::apply_set(scratch, *v); !r) return fail(r.message());
      m.sets.push_back(*v);
    } else if (a == "--kernel-baseline") {
      const std::string* v = value();
      if (v == nullptr || v->empty()) return fail("--kernel-baseline needs a PATH");
      if (access(v->c_str(), X_OK) != 0)
        return fail("--kernel-baseline " + *v + ": " + std::strerror(errno));
      m.kernel_baseline = *v;
    } else if (a == "--no-kernel") {
      m.kernel = false;
    } else if (a == "--json") {
      const std::string* v = value();
      if (v == nullptr || v->empty()) return fail("--json needs a FILE");
      m.json = *v;
    } else if (a == "--seed") {
      const std::string* v = value();
      if (v == nullptr || !parse_uint<std::uint64_t>(*v, 1, UINT64_MAX - 1, m.seed))
        return fail("--seed needs a number 1..18446744073709551614");
    } else if (cps && a == "--concurrency") {
      const std::string* v = value();
      if (v == nullptr || !parse_uint<unsigned>(*v, 1, kMaxConcurrency, m.concurrency))
        return fail("--concurrency needs a number 1.." + std::to_string(kMaxConcurrency));
    } else if (cps && a == "--close") {
      const std::string* v = value();
      if (v == nullptr || (*v != "client" && *v != "server"))
        return fail("--close needs client or server");
      if (!close_given) m.client_closes.clear();
      close_given = true;
      m.client_closes.push_back(*v == "client");
    } else if (cps && a == "--tw-reuse") {
      const std::string* v = value();
      unsigned r = 0;
      if (v == nullptr || !parse_uint<unsigned>(*v, 0, 2, r))
        return fail("--tw-reuse needs 0, 1 or 2");
      if (!reuse_given) m.tw_reuses.clear();
      reuse_given = true;
      m.tw_reuses.push_back(static_cast<int>(r));
    } else if (cps && a == "--ports") {
      const std::string* v = value();
      const auto dash = v == nullptr ? std::string::npos : v->find('-');
      if (dash == std::string::npos ||
          !parse_uint<std::uint16_t>(std::string_view(*v).substr(0, dash), 1, 65535, m.ports.low) ||
          !parse_uint<std::uint16_t>(std::string_view(*v).substr(dash + 1), 1, 65535,
                                     m.ports.high) ||
          m.ports.low > m.ports.high)
        return fail("--ports needs LOW-HIGH, 1 <= LOW <= HIGH <= 65535");
    } else {
      return fail("unknown argument '" + a + "' (see --help)");
    }
  }
  if (!cps) {
    m.client_closes = {true};
    m.tw_reuses = {-1};  // the preset's
  }
  std::string error;
  auto src = resolve_preset(preset, &error);
  if (!src) return fail(error);
  m.preset = std::move(*src);
  if (m.kernel && m.kernel_baseline.empty()) {
    // build/app/twtcp-bench -> build/bench/twtcp-kernel-baseline
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    const auto guess = self.parent_path().parent_path() / "bench" / "twtcp-kernel-baseline";
    if (!ec && access(guess.c_str(), X_OK) == 0) m.kernel_baseline = guess.string();
  }
  return 0;
}

// The Options build_config() reads, for one row of the matrix.
Options row_options(const MacroOptions& m, int tw_reuse) {
  Options o;
  o.ports = m.ports;
  if (tw_reuse >= 0) o.sets.push_back("net.ipv4.tcp_tw_reuse=" + std::to_string(tw_reuse));
  o.sets.insert(o.sets.end(), m.sets.begin(), m.sets.end());  // the user's --set wins
  o.seed = m.seed;
  return o;
}

// Per-connection application state, indexed by the connection's slot (the low 32 bits of a
// ConnId, stack.hpp) and checked against the whole id, so no allocation per connection.
struct AppConn {
  twtcp::ConnId id = 0;
  std::uint32_t bytes = 0;  // request bytes (server) or response bytes (client) received
  bool done = false;        // server: answered; client: closed by the application
};

class AppConns {
 public:
  explicit AppConns(std::size_t slots) : slots_(slots + 1) {}
  AppConn* claim(twtcp::ConnId id) {
    AppConn& c = slots_[(id & 0xffffffffu) % slots_.size()];
    if (c.id != 0 && c.id != id) {
      ++collisions_;  // never with today's ConnId layout; counted so a change shows
      return nullptr;
    }
    c = AppConn{id, 0, false};
    return &c;
  }
  AppConn* find(twtcp::ConnId id) {
    AppConn& c = slots_[(id & 0xffffffffu) % slots_.size()];
    return c.id == id ? &c : nullptr;
  }
  void release(twtcp::ConnId id) {
    if (AppConn* c = find(id)) c->id = 0;
  }
  [[nodiscard]] std::uint64_t collisions() const noexcept { return collisions_; }

 private:
  std::vector<AppConn> slots_;
  std::uint64_t collisions_ = 0;
};

// Reads what `id` has, stopping at a short read: an extra recv() that returns 0 is a whole
// Stack call (lookup, sync) per event, a visible share of a short connection's cost.
std::size_t recv_all(twtcp::Stack& stack, twtcp::ConnId id, std::span<std::uint8_t> buf) {
  std::size_t total = 0, n = 0;
  do {
    n = stack.recv(id, buf);
    total += n;
  } while (n == buf.size());
  return total;
}

std::string http_response() {
  return "HTTP/1.0 200 OK\r\nContent-Length: " + std::to_string(kResponseBody) + "\r\n\r\n" +
         std::string(kResponseBody, 'x');
}

// What the server lcore runs: poll its Stack until told to stop.
struct ServerLoop {
  twtcp::dpdk::Datapath* dp = nullptr;
  twtcp::Stack* stack = nullptr;
  twtcp::dpdk::TscClock clock;
  std::atomic<bool> stop{false};
};

int server_lcore_main(void* arg) {
  auto* s = static_cast<ServerLoop*>(arg);
  while (!s->stop.load(std::memory_order_relaxed)) {
    s->dp->poll(*s->stack, s->clock.now_us());
  }
  return 0;
}

struct MacroRow {
  bool client_closes = true;
  int tw_reuse = 0;
  twtcp::PortRange ports{0, 0};
  std::vector<std::uint64_t> per_second;  // completed connections (cps) or bytes (throughput)
  std::uint64_t total = 0;                // same, over the timed period
  std::uint64_t eaddrnotavail = 0, failed = 0, collisions = 0;
  double elapsed_s = 0;
  twtcp::StackCounters client, server;
  twtcp::dpdk::DatapathStats client_dp, server_dp;
  std::string kernel_json;  // the baseline's JSON line, empty if it did not run
  std::string kernel_error;
  double kernel_value = 0;  // its cps or bytes_per_s
  bool interrupted = false;

  [[nodiscard]] double rate() const { return elapsed_s > 0 ? total / elapsed_s : 0; }
  [[nodiscard]] double median() const {
    if (per_second.empty()) return 0;
    std::vector<std::uint64_t> v = per_second;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? static_cast<double>(v[n / 2]) : (v[n / 2 - 1] + v[n / 2]) / 2.0;
  }
  [[nodiscard]] double ratio() const { return kernel_value > 0 ? rate() / kernel_value : 0; }
  // TCP segments both Stacks sent per connection opened (the run drains what it started).
  [[nodiscard]] double segments_per_connection() const {
    return client.ActiveOpens ? static_cast<double>(client.OutSegs + server.OutSegs) /
                                    static_cast<double>(client.ActiveOpens)
                              : 0;
  }
};

// The timed loop both modes share, on the client lcore: `start_work` runs before each poll
// while the clock is in the timed period, `count` reads the running total.
template <class StartWork, class Count>
void timed_client_loop(MacroRow& row, unsigned seconds, twtcp::dpdk::Datapath& cdp,
                       twtcp::Stack& client, twtcp::dpdk::TscClock& clock, StartWork&& start_work,
                       Count&& count) {
  std::uint64_t now = clock.now_us();
  const std::uint64_t start = now, end = start + seconds * kSecondUs;
  std::uint64_t second_end = start + kSecondUs;
  std::uint64_t at_second_start = count();
  while (now < end && g_interrupts == 0) {
    start_work(now);
    cdp.poll(client, now);
    now = clock.now_us();
    if (now >= second_end || now >= end) {
      const std::uint64_t c = count();
      row.per_second.push_back(c - at_second_start);
      at_second_start = c;
      second_end += kSecondUs;
    }
  }
  row.interrupted = g_interrupts != 0;
  row.elapsed_s = static_cast<double>(std::min(now, end) - start) / kSecondUs;
  for (auto v : row.per_second) row.total += v;
}

// Runs `body(client, server, cdp, clock)` with the server Stack polled on the worker lcore.
template <class Body>
bool with_two_stacks(const twtcp::Config& ccfg, const twtcp::Config& scfg, twtcp::dpdk::Port& cport,
                     twtcp::dpdk::Port& sport, twtcp::dpdk::TscClock& clock, MacroRow& row,
                     const std::function<void(twtcp::Stack&)>& setup_server, Body&& body) {
  twtcp::dpdk::Datapath cdp(cport), sdp(sport);
  (void)cdp.discard_rx();
  (void)sdp.discard_rx();
  const std::uint64_t now = clock.now_us();
  twtcp::Stack client(ccfg, identity(kClientAddr, cport, sport), cdp.tx(), now);
  twtcp::Stack server(scfg, identity(kServerAddr, sport, cport), sdp.tx(), now);
  setup_server(server);
  ServerLoop loop;
  loop.dp = &sdp;
  loop.stack = &server;
  loop.clock = clock;
  const unsigned worker = rte_get_next_lcore(-1, 1, 0);
  if (worker >= RTE_MAX_LCORE || rte_eal_remote_launch(server_lcore_main, &loop, worker) != 0) {
    std::fprintf(stderr, "twtcp-bench: no worker lcore for the server Stack (EAL -l 0,1)\n");
    return false;
  }
  body(client, cdp);
  loop.stop.store(true, std::memory_order_relaxed);
  rte_eal_wait_lcore(worker);
  row.client = client.counters();
  row.server = server.counters();
  row.client_dp = cdp.stats();
  row.server_dp = sdp.stats();
  (void)cdp.discard_rx();
  (void)sdp.discard_rx();
  return true;
}

// Everything the cps callbacks touch. The server's fields are used on the server lcore only,
// the client's on the client lcore only.
struct CpsApp {
  twtcp::Stack* client = nullptr;
  twtcp::Stack* server = nullptr;
  bool client_closes = true;
  std::string response = http_response();
  AppConns client_conns{0}, server_conns{0};
  std::uint64_t in_flight = 0;  // connections the client application holds open
  std::uint64_t completed = 0;  // full response received, then closed
  std::uint64_t failed = 0;     // ended before a full response (timeout, reset, ...)
  std::array<std::uint8_t, 2048> client_buf{}, server_buf{};

  void client_close(AppConn& c, bool complete) {
    c.done = true;
    --in_flight;
    if (complete) ++completed;
    client->close(c.id);
  }
};

bool run_cps_row(const MacroOptions& m, bool client_closes, int tw_reuse, twtcp::dpdk::Port& cport,
                 twtcp::dpdk::Port& sport, twtcp::dpdk::TscClock& clock, MacroRow& row) {
  std::string error;
  const Options o = row_options(m, tw_reuse);
  const twtcp::Config ccfg = *build_config(m.preset, o, true, &error);  // checked in main
  const twtcp::Config scfg = *build_config(m.preset, o, false, &error);
  row.client_closes = client_closes;
  row.tw_reuse = ccfg.tcp_tw_reuse;
  row.ports = ccfg.ip_local_port_range;

  CpsApp app;
  app.client_closes = client_closes;
  app.client_conns = AppConns(static_cast<std::size_t>(ccfg.max_connections));
  app.server_conns = AppConns(static_cast<std::size_t>(scfg.max_connections));
  const std::size_t response_size = app.response.size();

  twtcp::Callbacks scb;
  scb.on_accepted = [a = &app](twtcp::ConnId id) { (void)a->server_conns.claim(id); };
  scb.on_readable = [a = &app](twtcp::ConnId id) {
    AppConn* c = a->server_conns.find(id);
    const std::size_t n = recv_all(*a->server, id, a->server_buf);
    if (c != nullptr) c->bytes += static_cast<std::uint32_t>(n);
    if (c == nullptr || c->done || c->bytes < kRequest.size()) return;
    c->done = true;
    a->server->send(
        id, {reinterpret_cast<const std::uint8_t*>(a->response.data()), a->response.size()});
    if (!a->client_closes) a->server->close(id);  // HTTP/1.0: the server closes first
  };
  scb.on_peer_closed = [a = &app](twtcp::ConnId id) { a->server->close(id); };
  scb.on_closed = [a = &app](twtcp::ConnId id, twtcp::CloseReason) { a->server_conns.release(id); };

  twtcp::ConnectOptions copt;
  copt.callbacks.on_connected = [a = &app](twtcp::ConnId id) {
    a->client->send(id, {reinterpret_cast<const std::uint8_t*>(kRequest.data()), kRequest.size()});
  };
  copt.callbacks.on_readable = [a = &app, response_size](twtcp::ConnId id) {
    AppConn* c = a->client_conns.find(id);
    const std::size_t n = recv_all(*a->client, id, a->client_buf);
    if (c != nullptr) c->bytes += static_cast<std::uint32_t>(n);
    if (c != nullptr && !c->done && a->client_closes && c->bytes >= response_size)
      a->client_close(*c, true);
  };
  copt.callbacks.on_peer_closed = [a = &app, response_size](twtcp::ConnId id) {
    AppConn* c = a->client_conns.find(id);
    if (c != nullptr && !c->done) a->client_close(*c, c->bytes >= response_size);
  };
  copt.callbacks.on_closed = [a = &app](twtcp::ConnId id, twtcp::CloseReason) {
    AppConn* c = a->client_conns.find(id);
    if (c != nullptr && !c->done) {
      c->done = true;
      --a->in_flight;
      ++a->failed;
    }
    a->client_conns.release(id);
  };
  // One Callbacks for every connection of the run: no copy or allocation per connect().
  copt.shared_callbacks = std::make_shared<const twtcp::Callbacks>(std::move(copt.callbacks));

  std::uint64_t connect_calls = 0, next_attempt = 0;
  auto setup_server = [&](twtcp::Stack& server) {
    app.server = &server;
    server.listen(kServerPort, scb);
  };
  return with_two_stacks(
      ccfg, scfg, cport, sport, clock, row, setup_server,
      [&](twtcp::Stack& client, twtcp::dpdk::Datapath& cdp) {
        app.client = &client;
        auto start_connections = [&](std::uint64_t now) {
          while (app.in_flight < m.concurrency && now >= next_attempt &&
                 connect_calls < kMaxConnectCalls) {
            ++connect_calls;
            const twtcp::ConnectResult r = client.connect(kServerAddr, kServerPort, copt);
            if (!r.ok()) {
              if (r.error == twtcp::kEaddrnotavail) ++row.eaddrnotavail;
              next_attempt = now + 1000;  // back off 1 ms, as the baseline's client does
              break;
            }
            if (app.client_conns.claim(r.id) == nullptr) {
              client.abort(r.id);
              continue;
            }
            ++app.in_flight;
          }
        };
        timed_client_loop(row, m.seconds, cdp, client, clock, start_connections,
                          [&] { return app.completed; });
        // Let the connections in flight finish, so the server's counters see whole ones.
        const std::uint64_t drain_end = clock.now_us() + kDrainUs;
        for (std::uint64_t now = clock.now_us();
             app.in_flight > 0 && now < drain_end && g_interrupts < 2; now = clock.now_us()) {
          cdp.poll(client, now);
        }
        row.failed = app.failed;
        row.collisions = app.client_conns.collisions() + app.server_conns.collisions();
      });
}

bool run_throughput_row(const MacroOptions& m, twtcp::dpdk::Port& cport, twtcp::dpdk::Port& sport,
                        twtcp::dpdk::TscClock& clock, MacroRow& row) {
  std::string error;
  const Options o = row_options(m, -1);
  const twtcp::Config ccfg = *build_config(m.preset, o, true, &error);
  const twtcp::Config scfg = *build_config(m.preset, o, false, &error);
  row.tw_reuse = ccfg.tcp_tw_reuse;
  row.ports = ccfg.ip_local_port_range;

  struct Pump {
    twtcp::Stack* client = nullptr;
    twtcp::Stack* server = nullptr;
    twtcp::ConnId conn = 0;
    bool connected = false, closed = false;
    std::array<std::uint8_t, 65536> chunk{};
    std::array<std::uint8_t, 65536> sink{};
    std::atomic<std::uint64_t> received{0};  // written by the server lcore only
    void fill() {
      while (connected && !closed && client->send(conn, chunk) > 0) {
      }
    }
  };
  auto pump = std::make_unique<Pump>();
  pump->chunk.fill('y');
  twtcp::Callbacks scb;
  scb.on_readable = [p = pump.get()](twtcp::ConnId id) {
    const std::size_t got = recv_all(*p->server, id, p->sink);
    p->received.store(p->received.load(std::memory_order_relaxed) + got, std::memory_order_relaxed);
  };
  scb.on_peer_closed = [p = pump.get()](twtcp::ConnId id) { p->server->close(id); };
  twtcp::ConnectOptions copt;
  copt.callbacks.on_connected = [p = pump.get()](twtcp::ConnId) {
    p->connected = true;
    p->fill();
  };
  copt.callbacks.on_writable = [p = pump.get()](twtcp::ConnId) { p->fill(); };
  copt.callbacks.on_closed = [p = pump.get()](twtcp::ConnId, twtcp::CloseReason) {
    p->closed = true;
  };

  auto setup_server = [&](twtcp::Stack& server) {
    pump->server = &server;
    server.listen(kServerPort, scb);
  };
  return with_two_stacks(
      ccfg, scfg, cport, sport, clock, row, setup_server,
      [&](twtcp::Stack& client, twtcp::dpdk::Datapath& cdp) {
        pump->client = &client;
        const twtcp::ConnectResult r = client.connect(kServerAddr, kServerPort, copt);
        if (!r.ok()) {
          ++row.failed;
          return;
        }
        pump->conn = r.id;
        // The handshake is not timed.
        const std::uint64_t connect_end = clock.now_us() + kDrainUs;
        for (std::uint64_t now = clock.now_us();
             !pump->connected && !pump->closed && now < connect_end; now = clock.now_us()) {
          cdp.poll(client, now);
        }
        if (!pump->connected) {
          ++row.failed;
          return;
        }
        timed_client_loop(
            row, m.seconds, cdp, client, clock, [&](std::uint64_t) { pump->fill(); },
            [&] { return pump->received.load(std::memory_order_relaxed); });
        if (pump->closed) ++row.failed;
        client.close(pump->conn);
        const std::uint64_t drain_end = clock.now_us() + kDrainUs;
        for (std::uint64_t now = clock.now_us(); !pump->closed && now < drain_end;
             now = clock.now_us()) {
          cdp.poll(client, now);
        }
      });
}

// Runs twtcp-kernel-baseline with `args`; returns its stdout (one JSON line) or "" and *error.
std::string run_kernel_baseline(const std::string& path, const std::vector<std::string>& args,
                                std::string* error) {
  int out[2];
  if (pipe(out) != 0) {
    *error = std::string("pipe: ") + std::strerror(errno);
    return "";
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&fa, out[0]);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(path.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, path.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  std::string text;
  if (rc == 0) {
    char buf[4096];
    ssize_t n = 0;
    while ((n = read(out[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
      if (n > 0) text.append(buf, static_cast<std::size_t>(n));
    }
  }
  close(out[0]);
  if (rc != 0) {
    *error = path + ": " + std::strerror(rc);
    return "";
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || text.empty() || text.front() != '{') {
    *error = path + " failed (exit " +
             std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)) + ")";
    return "";
  }
  return text;
}

// The number after "key": in a flat JSON object, or 0.
double json_number(const std::string& json, const std::string& key) {
  const std::string k = "\"" + key + "\":";
  const auto p = json.find(k);
  if (p == std::string::npos) return 0;
  return std::strtod(json.c_str() + p + k.size(), nullptr);
}

void run_kernel_row(const MacroOptions& m, MacroRow& row) {
  if (!m.kernel || g_interrupts != 0) return;
  if (m.kernel_baseline.empty()) {
    row.kernel_error =
        "twtcp-kernel-baseline not found next to twtcp-bench (meson -Dbenchmarks=true, or "
        "--kernel-baseline PATH)";
    return;
  }
  std::vector<std::string> args = {m.mode, "--seconds", std::to_string(m.seconds)};
  if (m.mode == "cps") {
    args.insert(args.end(), {"--concurrency", std::to_string(m.concurrency), "--close",
                             row.client_closes ? "client" : "server", "--tw-reuse",
                             std::to_string(row.tw_reuse), "--ports",
                             std::to_string(row.ports.low) + "-" + std::to_string(row.ports.high)});
  }
  std::fflush(stdout);
  row.kernel_json = run_kernel_baseline(m.kernel_baseline, args, &row.kernel_error);
  row.kernel_value = json_number(row.kernel_json, m.mode == "cps" ? "cps" : "bytes_per_s");
}

std::string machine_description() {
  std::string model;
  std::ifstream cpu("/proc/cpuinfo");
  for (std::string line; std::getline(cpu, line);) {
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  return model + ", " + std::to_string(std::thread::hardware_concurrency()) + " CPUs";
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::string macro_json(const MacroOptions& m, const std::vector<MacroRow>& rows) {
  const bool cps = m.mode == "cps";
  std::string j = "{\n  \"benchmark\": \"" + m.mode + "\",\n  \"date\": \"" + utc_now() +
                  "\",\n  \"machine\": \"" + json_escape(machine_description()) +
                  "\",\n  \"eal_memory\": \"" + (rte_eal_has_hugepages() ? "hugepages" : "4k") +
                  "\",\n  \"preset\": \"" + json_escape(m.preset.name) + "\",\n  \"sets\": [";
  for (std::size_t i = 0; i < m.sets.size(); ++i)
    j += std::string(i ? ", " : "") + "\"" + json_escape(m.sets[i]) + "\"";
  j += "],\n  \"seconds\": " + std::to_string(m.seconds) + ",\n";
  if (cps) j += "  \"concurrency\": " + std::to_string(m.concurrency) + ",\n";
  j += "  \"rows\": [";
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const MacroRow& r = rows[k];
    std::string per_second;
    for (auto v : r.per_second) per_second += (per_second.empty() ? "" : ",") + std::to_string(v);
    char nums[512];
    if (cps) {
      std::snprintf(nums, sizeof nums,
                    "\"close\": \"%s\", \"tw_reuse\": %d, \"ports\": \"%u-%u\", "
                    "\"twtcp\": {\"cps\": %.1f, \"median_per_second\": %.1f, \"connections\": "
                    "%llu, \"elapsed_s\": %.3f, \"eaddrnotavail\": %llu, \"failed\": %llu, "
                    "\"app_table_collisions\": %llu, \"segments_per_connection\": %.2f, "
                    "\"interrupted\": %s",
                    r.client_closes ? "client" : "server", r.tw_reuse, r.ports.low, r.ports.high,
                    r.rate(), r.median(), (unsigned long long)r.total, r.elapsed_s,
                    (unsigned long long)r.eaddrnotavail, (unsigned long long)r.failed,
                    (unsigned long long)r.collisions, r.segments_per_connection(),
                    r.interrupted ? "true" : "false");
    } else {
      std::snprintf(nums, sizeof nums,
                    "\"twtcp\": {\"bytes_per_s\": %.1f, \"median_per_second\": %.1f, "
                    "\"bytes\": %llu, \"elapsed_s\": %.3f, \"failed\": %llu, \"interrupted\": %s",
                    r.rate(), r.median(), (unsigned long long)r.total, r.elapsed_s,
                    (unsigned long long)r.failed, r.interrupted ? "true" : "false");
    }
    j += std::string(k ? "," : "") + "\n    {" + nums + ",\n      \"per_second\": [" + per_second +
         "],\n      \"client\": " + counters_json(r.client, r.client_dp) +
         ",\n      \"server\": " + counters_json(r.server, r.server_dp) +
         "},\n     \"kernel\": " + (r.kernel_json.empty() ? "null" : r.kernel_json) +
         ", \"kernel_error\": " +
         (r.kernel_error.empty() ? "null" : "\"" + json_escape(r.kernel_error) + "\"") +
         ", \"ratio\": " + (r.kernel_value > 0 ? std::to_string(r.ratio()) : "null") + "}";
  }
  j += "\n  ]\n}\n";
  return j;
}

void print_macro_row(const MacroOptions& m, const MacroRow& r) {
  char kernel[64] = "n/a", ratio[32] = "n/a", segs[48];
  if (m.mode == "cps") {
    if (r.kernel_value > 0) {
      std::snprintf(kernel, sizeof kernel, "%.0f", r.kernel_value);
      std::snprintf(ratio, sizeof ratio, "%.1fx", r.ratio());
    }
    const double kernel_segs = json_number(r.kernel_json, "segments_per_connection");
    if (kernel_segs > 0) {
      std::snprintf(segs, sizeof segs, "%.1f/%.1f", r.segments_per_connection(), kernel_segs);
    } else {
      std::snprintf(segs, sizeof segs, "%.1f/n/a", r.segments_per_connection());
    }
    std::printf("%-6s %8d %12.0f %12.0f %12s %8s %12llu %10llu %8llu %11s%s\n",
                r.client_closes ? "client" : "server", r.tw_reuse, r.rate(), r.median(), kernel,
                ratio, (unsigned long long)r.total, (unsigned long long)r.eaddrnotavail,
                (unsigned long long)r.failed, segs, r.interrupted ? "  (interrupted)" : "");
  } else {
    if (r.kernel_value > 0) {
      std::snprintf(kernel, sizeof kernel, "%.2f", r.kernel_value * 8 / 1e9);
      std::snprintf(ratio, sizeof ratio, "%.2fx", r.ratio());
    }
    std::printf("%14.2f %14.2f %14s %8s %8llu%s\n", r.rate() * 8 / 1e9, r.median() * 8 / 1e9,
                kernel, ratio, (unsigned long long)r.failed,
                r.interrupted ? "  (interrupted)" : "");
  }
}

// The two back-to-back ports the macro runs use (big rings: a full-rate CPS run keeps
// thousands of frames in flight). false after printing the error.
bool open_ring_ports(const char* name, std::unique_ptr<twtcp::dpdk::Port>& cport,
                     std::unique_ptr<twtcp::dpdk::Port>& sport) {
  std::string error;
  auto pair = twtcp::dpdk::create_ring_pair(name, 4096, &error);
  if (!pair) return fail(error, 1), false;
  twtcp::dpdk::PortOptions po;
  po.rx_descriptors = 4096;
  po.tx_descriptors = 4096;
  cport = twtcp::dpdk::Port::open(pair->a, po, &error);
  sport = cport ? twtcp::dpdk::Port::open(pair->b, po, &error) : nullptr;
  if (!cport || !sport) return fail(error, 1), false;
  return true;
}

int run_macro(const MacroOptions& m, const twtcp::dpdk::SplitArgs& split) {
  twtcp::dpdk::Eal eal(split.eal);
  if (!eal.ok()) return fail(eal.error(), 1);
  if (rte_lcore_count() < 2) return fail("needs two lcores, one per Stack (EAL -l 0,1)", 1);
  std::string error;
  std::unique_ptr<twtcp::dpdk::Port> cport, sport;
  if (!open_ring_ports("twtcp_bench", cport, sport)) return 1;
  twtcp::dpdk::TscClock clock;

  const bool cps = m.mode == "cps";
  std::string sets;
  for (const auto& s : m.sets) sets += " --set '" + s + "'";
  std::printf(
      "twtcp-bench %s: client Stack (198.18.0.2, lcore %u) -> server Stack (198.18.0.1:%u, "
      "lcore %u) over two %s ethdevs wired back to back; preset %s%s; %u s per row%s\n",
      m.mode.c_str(), rte_get_main_lcore(), kServerPort, rte_get_next_lcore(-1, 1, 0),
      cport->driver().c_str(), m.preset.name.c_str(), sets.c_str(), m.seconds,
      cps ? (", " + std::to_string(m.concurrency) + " connections in flight, HTTP/1.0 request " +
             std::to_string(kRequest.size()) + " B, response " +
             std::to_string(http_response().size()) + " B")
                .c_str()
          : ", one connection, the client writes, the server discards");
  std::printf("EAL memory: %s\n", rte_eal_has_hugepages()
                                      ? "hugepages"
                                      : "4 KiB pages (--no-huge; with 256 free 2 MiB hugepages "
                                        "on a mounted hugetlbfs the default takes those)");
  std::printf("kernel baseline: %s\n", !m.kernel ? "off (--no-kernel)"
                                       : m.kernel_baseline.empty()
                                           ? "not found (build with -Dbenchmarks=true)"
                                           : m.kernel_baseline.c_str());
  std::fflush(stdout);

  std::vector<MacroRow> rows;
  bool ok = true;
  for (bool client_closes : m.client_closes) {
    for (int tw_reuse : m.tw_reuses) {
      if (g_interrupts != 0) break;
      MacroRow row;
      ok = cps ? run_cps_row(m, client_closes, tw_reuse, *cport, *sport, clock, row)
               : run_throughput_row(m, *cport, *sport, clock, row);
      if (!ok) break;
      if (cps) {
        std::printf(
            "  twtcp: %s closes, tw_reuse %d: %.0f conn/s (median of seconds %.0f), %llu "
            "EADDRNOTAVAIL, %llu failed; client TIME_WAIT %zu TWRecycled %llu, server "
            "TW %llu\n",
            client_closes ? "client" : "server", row.tw_reuse, row.rate(), row.median(),
            (unsigned long long)row.eaddrnotavail, (unsigned long long)row.failed,
            static_cast<std::size_t>(row.client.TW), (unsigned long long)row.client.TWRecycled,
            (unsigned long long)row.server.TW);
      } else {
        std::printf("  twtcp: %.2f Gbit/s (median of seconds %.2f)\n", row.rate() * 8 / 1e9,
                    row.median() * 8 / 1e9);
      }
      std::fflush(stdout);
      run_kernel_row(m, row);
      if (!row.kernel_error.empty())
        std::printf("  kernel: %s\n", row.kernel_error.c_str());
      else if (!row.kernel_json.empty())
        std::printf("  kernel: %s\n", row.kernel_json.c_str());
      rows.push_back(std::move(row));
    }
  }
  if (cps) {
    std::printf("\n%-6s %8s %12s %12s %12s %8s %12s %10s %8s %11s\n", "close", "tw_reuse",
                "twtcp conn/s", "median/s", "kernel c/s", "ratio", "connections", "EADDRNOTAV",
                "failed", "segs/conn");
  } else {
    std::printf("\n%14s %14s %14s %8s %8s\n", "twtcp Gbit/s", "median Gbit/s", "kernel Gbit/s",
                "ratio", "failed");
  }
  for (const auto& r : rows) print_macro_row(m, r);
  if (!m.json.empty()) {
    if (!write_file(m.json, macro_json(m, rows))) {
      std::fprintf(stderr, "twtcp-bench: cannot write %s\n", m.json.c_str());
      return 1;
    }
    std::printf("wrote %s\n", m.json.c_str());
  }
  if (!ok) return 1;
  return g_interrupts != 0 ? 130 : 0;
}

// RSS of this process in bytes (/proc/self/statm, resident pages).
std::uint64_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  f >> size >> resident;
  return resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

// Bytes the program holds from malloc right now (small blocks + mmapped ones): after a run
// has destroyed its Stacks this is the leak signal, independent of how the heap fragments.
std::uint64_t heap_in_use_bytes() {
  const struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

// The long run of issue 6: full-rate CPS, presets switching between runs; checks that
// nothing leaks (mbufs, heap) and no error counter moves, and that RSS stays bounded.
int run_soak(MacroOptions m, const twtcp::dpdk::SplitArgs& split) {
  // One malloc arena: each run builds its Stacks anew, one on the worker lcore's thread, and
  // glibc's per-thread arenas would otherwise fragment into tens of MiB of RSS growth that
  // is not a leak, blurring the RSS bound below.
  mallopt(M_ARENA_MAX, 1);
  twtcp::dpdk::Eal eal(split.eal);
  if (!eal.ok()) return fail(eal.error(), 1);
  if (rte_lcore_count() < 2) return fail("needs two lcores, one per Stack (EAL -l 0,1)", 1);
  std::string error;
  std::unique_ptr<twtcp::dpdk::Port> cport, sport;
  if (!open_ring_ports("twtcp_soak", cport, sport)) return 1;
  twtcp::dpdk::TscClock clock;
  const unsigned pool_c0 = rte_mempool_avail_count(cport->pool());
  const unsigned pool_s0 = rte_mempool_avail_count(sport->pool());
  std::printf(
      "twtcp-bench soak: %u s, %u s per run, presets in turn, closing side alternating; "
      "mbufs free at start: client %u, server %u\n",
      m.seconds, m.run_seconds, pool_c0, pool_s0);
  const std::uint64_t end_us = clock.now_us() + std::uint64_t{m.seconds} * kSecondUs;
  // Two memory checks. Heap in use after a run (its Stacks gone) must come back to what it
  // was after the first run: 16M connections leaking even one byte each would show. RSS
  // (after malloc_trim hands free pages back) must stay within kRssSlackMiB of the largest
  // value seen in the first cycle of presets, when every preset's table sizes were built once.
  constexpr double kHeapSlackMiB = 1.0;
  constexpr double kRssSlackMiB = 16.0;
  std::uint64_t heap_first = 0, heap_max = 0, rss_first_cycle_max = 0, rss_max = 0;
  std::uint64_t total = 0, runs = 0;
  bool ok = true;
  const unsigned total_seconds = m.seconds;
  m.seconds = m.run_seconds;
  const auto mib = [](std::uint64_t b) { return static_cast<double>(b) / (1 << 20); };
  for (std::size_t i = 0; clock.now_us() < end_us && g_interrupts == 0; ++i) {
    const std::string_view name = kDefaultOrder[i % std::size(kDefaultOrder)];
    auto src = resolve_preset(std::string(name), &error);
    if (!src) return fail(error, 1);
    m.preset = *src;
    // A wide port range: the soak is about leaks under load, not about exhaustion.
    const bool client_closes = (i / std::size(kDefaultOrder)) % 2 == 0;
    MacroRow row;
    if (!run_cps_row(m, client_closes, -1, *cport, *sport, clock, row)) return 1;
    ++runs;
    total += row.total;
    const unsigned pc = rte_mempool_avail_count(cport->pool());
    const unsigned ps = rte_mempool_avail_count(sport->pool());
    malloc_trim(0);
    const std::uint64_t heap = heap_in_use_bytes();
    const std::uint64_t rss = rss_bytes();
    if (runs == 1) heap_first = heap;
    heap_max = std::max(heap_max, heap);
    rss_max = std::max(rss_max, rss);
    if (runs <= std::size(kDefaultOrder)) rss_first_cycle_max = rss_max;
    const bool heap_ok = mib(heap) <= mib(heap_first) + kHeapSlackMiB;
    const bool rss_ok =
        runs <= std::size(kDefaultOrder) || mib(rss) <= mib(rss_first_cycle_max) + kRssSlackMiB;
    const auto bad = [](const twtcp::StackCounters& c) {
      return c.EstabResets + c.TCPAbortOnTimeout + c.TCPAbortOnClose + c.InErrs;
    };
    const std::uint64_t drops = row.client_dp.tx_dropped_full + row.client_dp.tx_dropped_no_mbuf +
                                row.server_dp.tx_dropped_full + row.server_dp.tx_dropped_no_mbuf;
    const bool run_ok = pc == pool_c0 && ps == pool_s0 && row.failed == 0 && bad(row.client) == 0 &&
                        bad(row.server) == 0 && drops == 0 && heap_ok && rss_ok;
    ok = ok && run_ok;
    std::printf(
        "  run %2llu %-18s %s closes: %8.0f conn/s, failed %llu, resets/timeouts %llu, "
        "TX drops %llu, mbufs free %u/%u (start %u/%u), heap %.2f MiB, RSS %.1f MiB%s\n",
        static_cast<unsigned long long>(runs), std::string(name).c_str(),
        client_closes ? "client" : "server", row.rate(),
        static_cast<unsigned long long>(row.failed),
        static_cast<unsigned long long>(bad(row.client) + bad(row.server)),
        static_cast<unsigned long long>(drops), pc, ps, pool_c0, pool_s0, mib(heap), mib(rss),
        run_ok ? "" : "  <-- DRIFT");
    std::fflush(stdout);
  }
  std::printf(
      "soak: %llu runs, %llu connections in %u s; heap in use after a run %.2f MiB, at most "
      "%.2f MiB (limit +%.0f MiB); RSS at most %.1f MiB (first cycle %.1f MiB, limit +%.0f "
      "MiB%s); %s\n",
      static_cast<unsigned long long>(runs), static_cast<unsigned long long>(total), total_seconds,
      mib(heap_first), mib(heap_max), kHeapSlackMiB, mib(rss_max), mib(rss_first_cycle_max),
      kRssSlackMiB, runs > std::size(kDefaultOrder) ? "" : ", not judged: one cycle only",
      ok ? "no drift" : "DRIFT");
  if (g_interrupts != 0) return 130;
  return ok ? 0 : 1;
}

// True when DPDK can take `mib` MiB of 2 MiB hugepages: a hugetlbfs mounted, enough free.
bool hugepages_free(unsigned mib) {
  std::ifstream mounts("/proc/mounts");
  bool mounted = false;
  for (std::string line; !mounted && std::getline(mounts, line);) {
    mounted = line.find(" hugetlbfs ") != std::string::npos;
  }
  std::ifstream f("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages");
  unsigned free_pages = 0;
  return mounted && (f >> free_pages) && free_pages >= mib / 2;
}

}  // namespace

int main(int argc, char** argv) {
  // The subcommand decides the default lcores: cps and throughput run one Stack per lcore.
  std::string_view subcommand;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--") {
      subcommand = i + 1 < argc ? argv[i + 1] : "";
      break;
    }
    if (subcommand.empty()) subcommand = argv[i];
  }
  const bool macro = subcommand == "cps" || subcommand == "throughput" || subcommand == "soak";
  const std::string prefix = "--file-prefix=twtcp-bench-" + std::to_string(getpid());
  // The macro benchmarks take hugepages where the machine has them (the kernel they are
  // compared with keeps its buffers in the huge-page direct map); port-exhaustion and soak
  // stay on 4 KiB pages, which every machine has.
  std::vector<std::string> default_eal = {
      "--no-pci", "--no-shconf",    "-m",  "512", "-l", macro ? "0,1" : "0", "--log-level",
      "error",    "--no-telemetry", prefix};
  if (macro && subcommand != "soak" && hugepages_free(512)) {
    // Unlinked once mapped: the pages go back when the process ends, however it ends.
    default_eal.insert(default_eal.begin(), "--huge-unlink");
  } else {
    default_eal.insert(default_eal.begin(), "--no-huge");
  }
  const twtcp::dpdk::SplitArgs split = twtcp::dpdk::split_args(argc, argv, default_eal);
  Options opt;
  MacroOptions mopt;
  const bool run_macro_mode =
      !split.program.empty() &&
      (split.program[0] == "cps" || split.program[0] == "throughput" || split.program[0] == "soak");
  if (run_macro_mode) {
    if (int rc = parse_macro_flags(split.program, mopt); rc != 0) return rc < 0 ? 0 : rc;
    for (int tw_reuse : mopt.tw_reuses) {  // bad --set lines cost no EAL start-up
      std::string error;
      const Options o = row_options(mopt, tw_reuse);
      if (!build_config(mopt.preset, o, true, &error) ||
          !build_config(mopt.preset, o, false, &error))
        return fail(error);
    }
    if (mopt.seed == 0) mopt.seed = (rte_get_tsc_cycles() % 1'000'000'000) + 1;
  } else {
    if (int rc = parse_flags(split.program, opt); rc != 0) return rc < 0 ? 0 : rc;
    if (opt.seed == 0) opt.seed = (rte_get_tsc_cycles() % 1'000'000'000) + 1;
  }

  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  if (run_macro_mode && mopt.mode == "soak") return run_soak(mopt, split);
  return run_macro_mode ? run_macro(mopt, split) : port_exhaustion(opt, split);
}
