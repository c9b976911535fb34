// twtcp-bench: measurements of whole twtcp stacks over DPDK ethdevs.
//
// port-exhaustion: a client Stack and a server Stack in one process, joined by two net_ring
// ethdevs wired back to back, run a connect -> close loop (the client closes first, so its
// side holds TIME_WAIT, as in SPEC §9) with a 10-port local range, preset by preset, and
// count per second the connects that succeed and those that find no free port.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
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
    "usage: twtcp-bench [EAL args --] port-exhaustion [options]\n"
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
    "Without EAL args: --no-huge --no-pci --no-shconf -m 512 -l 0 --log-level error\n"
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
  if (args.empty()) return fail("missing subcommand (port-exhaustion; see --help)");
  if (args[0] == "--help" || args[0] == "-h") {
    std::fputs(kUsage, stdout);
    return -1;
  }
  if (args[0] == "--version") {
    std::puts("twtcp-bench 0.1.0");
    return -1;
  }
  if (args[0] != "port-exhaustion") {
    return fail("unknown subcommand '" + args[0] + "' (port-exhaustion; see --help)");
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

}  // namespace

int main(int argc, char** argv) {
  const std::string prefix = "--file-prefix=twtcp-bench-" + std::to_string(getpid());
  const twtcp::dpdk::SplitArgs split =
      twtcp::dpdk::split_args(argc, argv,
                              {"--no-huge", "--no-pci", "--no-shconf", "-m", "512", "-l", "0",
                               "--log-level", "error", "--no-telemetry", prefix});
  Options opt;
  if (int rc = parse_flags(split.program, opt); rc != 0) return rc < 0 ? 0 : rc;
  if (opt.seed == 0) opt.seed = (rte_get_tsc_cycles() % 1'000'000'000) + 1;

  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  return port_exhaustion(opt, split);
}
