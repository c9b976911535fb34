// twtcp-sim: replays the stories of the seed articles (and SPEC §9's port-exhaustion runs)
// on a virtual clock with real twtcp Stacks, links and a NAT: a tcpdump-like timeline, a
// summary, and a verdict saying whether what happened is what SPEC predicts for the
// configuration used. Deterministic: a seed reproduces a run exactly. No DPDK.
#include <charconv>
#include <cstdio>
#include <string>
#include <string_view>

#include "scenario/scenario.hpp"

namespace {

constexpr const char* kUsage =
    "usage: twtcp-sim --list\n"
    "       twtcp-sim --scenario NAME [--config FILE]... [--set KEY=VALUE]... [--seed N]\n"
    "                 [--param KEY=VALUE]... [--json] [--max-lines N]\n"
    "Runs a scenario on a virtual clock and prints its timeline (tcpdump -tt -n -S style,\n"
    "captured where the story happens), a summary and a verdict line.\n"
    "  --config FILE     replaces the scenario's preset (repeatable, later wins); applies to\n"
    "                    the host whose policy the story is about (see --list)\n"
    "  --set KEY=VALUE   on top of the preset or files (repeatable)\n"
    "  --param KEY=VALUE scenario knobs (lossy-transfer: bytes, loss, dup, reorder in %,\n"
    "                    delay_us)\n"
    "  --seed N          link randomness and random_seed of the stacks (default 1)\n"
    "  --json            one JSON object instead of the text output\n"
    "  --max-lines N     timeline lines to print (default 200, 0 = none)\n"
    "  --help, --version\n"
    "Exit status: 0 the verdict matches SPEC, 1 it does not, 2 bad flags or configuration.\n";

int fail(const std::string& msg) {
  std::fprintf(stderr, "twtcp-sim: %s\n", msg.c_str());
  return 2;
}

bool parse_u64(std::string_view s, std::uint64_t& out) {
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size() && !s.empty();
}

}  // namespace

int main(int argc, char** argv) {
  namespace sc = twtcp::scenario;
  sc::Options opts;
  std::string name;
  bool json = false, list = false;
  std::uint64_t max_lines = 200;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--version") {
      std::puts("twtcp-sim 0.1.0");
      return 0;
    } else if (arg == "--list") {
      list = true;
    } else if (arg == "--json") {
      json = true;
    } else if (arg == "--scenario") {
      if (!v || !*v) return fail("--scenario needs a NAME (see --list)");
      if (!name.empty()) return fail("--scenario given twice");
      name = v;
      ++i;
    } else if (arg == "--config") {
      if (!v || !*v) return fail("--config needs a FILE");
      opts.config_files.emplace_back(v);
      ++i;
    } else if (arg == "--set") {
      if (!v || !*v) return fail("--set needs KEY=VALUE");
      opts.sets.emplace_back(v);
      ++i;
    } else if (arg == "--param") {
      const std::string_view kv = v ? v : "";
      const auto eq = kv.find('=');
      if (eq == std::string_view::npos || eq == 0) return fail("--param needs KEY=VALUE");
      opts.params.emplace_back(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
      ++i;
    } else if (arg == "--seed") {
      if (!v || !parse_u64(v, opts.seed) || opts.seed == 0) {
        return fail("--seed needs an integer 1..18446744073709551615");
      }
      ++i;
    } else if (arg == "--max-lines") {
      if (!v || !parse_u64(v, max_lines)) return fail("--max-lines needs a count");
      ++i;
    } else {
      return fail("unknown argument '" + std::string(arg) + "' (see --help)");
    }
  }
  if (list) {
    if (!name.empty()) return fail("--list and --scenario exclude each other");
    for (const sc::Info& s : sc::list()) {
      std::printf("%-20s %s\n%-20s   (runs %s unless --config is given)\n",
                  std::string(s.name).c_str(), std::string(s.story).c_str(), "",
                  std::string(s.preset).c_str());
    }
    return 0;
  }
  if (name.empty()) return fail("nothing to do: --list or --scenario NAME (see --help)");

  const sc::Result r = sc::run(name, opts);
  if (!r.error.empty()) return fail(r.error);
  if (json) {
    std::printf("%s\n", sc::to_json(name, r).c_str());
  } else {
    const auto& lines = r.timeline.lines();
    const std::size_t shown = std::min<std::size_t>(lines.size(), max_lines);
    for (std::size_t i = 0; i < shown; ++i) std::printf("%s\n", lines[i].c_str());
    if (shown < lines.size()) std::printf("... %zu more lines\n", lines.size() - shown);
    if (shown > 0) std::printf("\n");
    for (const std::string& s : r.summary) std::printf("%s\n", s.c_str());
    std::printf("verdict: %s %s: %s\n", r.pass ? "PASS" : "FAIL", name.c_str(), r.verdict.c_str());
  }
  return r.pass ? 0 : 1;
}
