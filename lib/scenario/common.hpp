// lib/scenario/common.hpp: what the scenarios share: configuration assembly (preset, then the
// user's --config files and --set lines), addresses, counters as JSON, number formatting.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "scenario/scenario.hpp"
#include "twtcp/config.hpp"
#include "twtcp/stack.hpp"

namespace twtcp::scenario {

inline constexpr std::uint64_t kMs = 1000;
inline constexpr std::uint64_t kSec = 1'000'000;

[[nodiscard]] constexpr std::uint32_t ipv4(std::uint8_t a, std::uint8_t b, std::uint8_t c,
                                           std::uint8_t d) noexcept {
  return (std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) | d;
}
[[nodiscard]] std::string ipv4_str(std::uint32_t a);

// Small tables: scenarios hold a handful of connections, not Linux's defaults.
[[nodiscard]] Config small_tables(Config c);

// The preset `preset` (or, when options.config_files is not empty, those files instead),
// then options.sets, then validate(). Error: a one-line message in `error`.
// twtcp.random_seed left at 0 becomes options.seed + salt, so runs are reproducible.
[[nodiscard]] std::optional<Config> build_config(std::string_view preset, const Options& options,
                                                 std::uint64_t salt, std::string& error);
// Applies `lines` (KEY=VALUE) to `cfg`, then validate(); false with `error` set on failure.
bool apply_sets(Config& cfg, const std::vector<std::string>& lines, std::string& error);

// Identity for a host; every host's MAC ends in `mac_last` (sim nodes do not ARP).
[[nodiscard]] Identity identity(std::uint32_t addr, std::uint8_t mac_last);

// {"Tcp": {...}, "TcpExt": {...}, "twtcp": {...}} of a stack's counters.
[[nodiscard]] std::string counters_json(const Stack& s);
[[nodiscard]] std::string json_string(std::string_view s);
// "[1, 2, 3]"
[[nodiscard]] std::string json_array(const std::vector<std::uint64_t>& v);
// "10, 0, 0, 0, 0"
[[nodiscard]] std::string join(const std::vector<std::uint64_t>& v);
// "1.234 s"
[[nodiscard]] std::string seconds_str(std::uint64_t us);

}  // namespace twtcp::scenario
