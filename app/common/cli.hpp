// app/common/cli.hpp: what every twtcp program parses the same way: IPv4 addresses and
// prefixes, endpoints, bounded integers, --config/--set into a Config, one-line errors, and
// the Ctrl-C rule (first signal: stop and report; second: exit at once).
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "twtcp/config.hpp"
#include "twtcp/stack.hpp"

namespace twtcp::app {

struct Ipv4Prefix {
  std::uint32_t addr = 0;  // host order
  std::uint8_t len = 24;
};

[[nodiscard]] bool parse_ipv4(std::string_view s, std::uint32_t& out);
[[nodiscard]] bool parse_prefix(std::string_view s, Ipv4Prefix& out);  // A.B.C.D/LEN
[[nodiscard]] bool parse_endpoint(std::string_view s, std::uint32_t& addr, std::uint16_t& port);
[[nodiscard]] std::string ipv4_str(std::uint32_t a);

template <typename T>
[[nodiscard]] bool parse_uint(std::string_view s, T lo, T hi, T& out) {
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || s.empty() || v < lo || v > hi) {
    return false;
  }
  out = static_cast<T>(v);
  return true;
}

// --config files then --set lines, validated; on error a one-line message.
[[nodiscard]] std::optional<Config> load_config(const std::vector<std::string>& files,
                                                const std::vector<std::string>& sets,
                                                std::string* error);

// {"Tcp": {...}, "TcpExt": {...}, "twtcp": {...extra}} with `extra` members (raw JSON values)
// appended to the twtcp group.
[[nodiscard]] std::string counters_json(
    const StackCounters& c, const std::vector<std::pair<std::string, std::string>>& extra);
[[nodiscard]] std::string json_string(std::string_view s);

// SIGINT/SIGTERM: the first sets stop_requested(), a second exits at once with 130.
void install_stop_signals();
[[nodiscard]] bool stop_requested() noexcept;

// Writes `text` to `path` atomically enough for a results file (tmp + rename). false on error.
bool write_file(const std::string& path, const std::string& text, std::string* error);

}  // namespace twtcp::app
