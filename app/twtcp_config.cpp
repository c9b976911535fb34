// twtcp-config: loads configuration the way every twtcp program does
// (--config FILE ..., --set KEY=VALUE ..., later wins), validates it, and
// prints it in sysctl.conf syntax; it can also show the ephemeral-port
// search the configuration implies.
#include <arpa/inet.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_set>

#include "ports/allocator.hpp"
#include "twtcp/config.hpp"

namespace {

constexpr const char* kUsage =
    "usage: twtcp-config [--config FILE]... [--set KEY=VALUE]... [ACTION]\n"
    "Loads the files and assignments in order (later wins), validates them, then:\n"
    "  --print               every key with its effective value (default)\n"
    "  --diff                only the keys that differ from the built-in defaults\n"
    "  --list-keys           every key with its allowed values and meaning\n"
    "  --port-search A.B.C.D:PORT [--local A.B.C.D]\n"
    "                        connect() to one peer until EADDRNOTAVAIL, every tuple left\n"
    "                        busy (tw_reuse=0 behaviour), printing the ports in the order\n"
    "                        net.ipv4.ip_local_port_range and the kernel model pick them\n"
    "  --help, --version\n"
    "Exit status: 0 ok, 2 bad flags or configuration (one line on stderr).\n";

int fail(const std::string& msg) {
  std::fprintf(stderr, "twtcp-config: %s\n", msg.c_str());
  return 2;
}

bool parse_ipv4(std::string_view text, std::uint32_t& out) {
  std::string s(text);
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) return false;
  out = ntohl(a.s_addr);
  return true;
}

bool parse_endpoint(std::string_view text, std::uint32_t& addr, std::uint16_t& port) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return false;
  if (!parse_ipv4(text.substr(0, colon), addr)) return false;
  auto digits = text.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc{} || end != digits.data() + digits.size() || value == 0 || value > 65535)
    return false;
  port = static_cast<std::uint16_t>(value);
  return true;
}

int port_search(const twtcp::Config& cfg, std::uint32_t local, std::uint32_t remote,
                std::uint16_t remote_port) {
  // The allocator a stack built from `cfg` would use.
  twtcp::ports::PortAllocator alloc(twtcp::ports::allocator_options_from_config(cfg));
  if (auto e = twtcp::ports::apply_config(alloc, cfg); e != twtcp::ports::RangeError::kOk)
    return fail(std::string("net.ipv4.ip_local_port_range: ") + twtcp::ports::reason(e));
  std::unordered_set<std::uint16_t> busy;
  auto probe = [&](const twtcp::flow::FlowKeyV4& key, bool) {
    return busy.contains(key.local_port) ? twtcp::ports::TupleState::kBusy
                                         : twtcp::ports::TupleState::kFree;
  };
  const auto eff = cfg.effective();
  std::printf(
      "kernel_model %s, %s%s, range %u-%u:", std::string(to_string(eff.kernel_model)).c_str(),
      std::string(to_string(eff.port_select)).c_str(), eff.parity_split ? " with parity split" : "",
      cfg.ip_local_port_range.low, cfg.ip_local_port_range.high);
  const unsigned limit = 65536;  // at most one success per port, then one failure
  for (unsigned i = 0; i <= limit; ++i) {
    auto res = alloc.pick_ephemeral(local, remote, remote_port, probe);
    if (!res) {
      std::printf("  then EADDRNOTAVAIL (errno %d) after %u connects\n", res.error_number(), i);
      return 0;
    }
    busy.insert(res.pick.port);
    if (i < 24) std::printf(" %u", res.pick.port);
    if (i == 24) std::printf(" ...");
  }
  return fail("port search did not terminate (allocator bug)");
}

}  // namespace

int main(int argc, char** argv) {
  twtcp::ConfigLoader loader;
  enum class Action { kPrint, kDiff, kListKeys, kPortSearch } action = Action::kPrint;
  std::uint32_t remote = 0, local = 0xC6120002;  // 198.18.0.2
  std::uint16_t remote_port = 0;

  bool action_given = false;
  bool local_given = false;
  // One action per run: "--print --diff" is a mistake to report, not to guess at.
  auto set_action = [&](Action a) -> bool {
    if (action_given) return false;
    action_given = true;
    action = a;
    return true;
  };
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&](std::string_view flag) -> const char* {
      if (i + 1 >= argc) return nullptr;
      (void)flag;
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--version") {
      std::puts("twtcp-config 0.1.0");
      return 0;
    } else if (arg == "--config") {
      const char* v = value(arg);
      if (!v) return fail("--config needs a FILE");
      if (auto r = loader.load_file(v); !r) return fail(r.message());
    } else if (arg == "--set") {
      const char* v = value(arg);
      if (!v) return fail("--set needs KEY=VALUE");
      if (auto r = loader.apply_set(v); !r) return fail(r.message());
    } else if (arg == "--print" || arg == "--diff" || arg == "--list-keys") {
      const Action a = arg == "--print"  ? Action::kPrint
                       : arg == "--diff" ? Action::kDiff
                                         : Action::kListKeys;
      if (!set_action(a)) {
        return fail("only one of --print, --diff, --list-keys, --port-search at a time");
      }
    } else if (arg == "--port-search") {
      const char* v = value(arg);
      if (!v || !parse_endpoint(v, remote, remote_port))
        return fail("--port-search needs A.B.C.D:PORT (port 1..65535)");
      if (!set_action(Action::kPortSearch)) {
        return fail("only one of --print, --diff, --list-keys, --port-search at a time");
      }
    } else if (arg == "--local") {
      const char* v = value(arg);
      if (!v || !parse_ipv4(v, local)) return fail("--local needs an IPv4 address A.B.C.D");
      if (local_given) return fail("--local given twice");
      local_given = true;
    } else {
      return fail("unknown argument '" + std::string(arg) + "' (see --help)");
    }
  }
  if (local_given && action != Action::kPortSearch) {
    return fail("--local only applies to --port-search");
  }
  if (auto r = loader.finish(); !r) return fail(r.message());
  const twtcp::Config& cfg = loader.config();

  switch (action) {
    case Action::kPrint:
      std::fputs(twtcp::format(cfg).c_str(), stdout);
      return 0;
    case Action::kDiff: {
      const twtcp::Config defaults;
      int n = 0;
      for (const auto& key : twtcp::list_keys()) {
        std::string now = key.format(cfg), was = key.format(defaults);
        if (now == was) continue;
        std::printf("%.*s = %s    # default %s\n", static_cast<int>(key.name.size()),
                    key.name.data(), now.c_str(), was.c_str());
        ++n;
      }
      if (n == 0) std::puts("# same as the built-in defaults (Linux 6.18)");
      return 0;
    }
    case Action::kListKeys:
      for (const auto& key : twtcp::list_keys())
        std::printf("%-40.*s %-28s %.*s\n", static_cast<int>(key.name.size()), key.name.data(),
                    key.allowed().c_str(), static_cast<int>(key.doc.size()), key.doc.data());
      return 0;
    case Action::kPortSearch:
      return port_search(cfg, local, remote, remote_port);
  }
  return 0;
}
