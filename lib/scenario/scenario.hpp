// lib/scenario/scenario.hpp: the named stories twtcp-sim replays (the seed articles, SPEC §9),
// each a deterministic run of real Stacks on lib/sim, ending in a verdict that says whether
// what happened is what SPEC predicts for the configuration used.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/timeline.hpp"

namespace twtcp::scenario {

struct Options {
  // Configuration sources applied, in order, on top of the scenario's own preset: --config
  // files (replace the preset when given) then --set KEY=VALUE lines.
  std::vector<std::string> config_files;
  std::vector<std::string> sets;
  std::uint64_t seed = 1;  // link randomness and each stack's twtcp.random_seed (if unset)
  // Scenario knobs (--param KEY=VALUE), e.g. lossy-transfer's bytes and loss; a scenario
  // rejects the ones it does not know.
  std::vector<std::pair<std::string, std::string>> params;
};

struct Result {
  // Empty when the scenario ran; otherwise a one-line error (bad config, unknown name).
  std::string error;
  // The run matched SPEC's prediction for its configuration.
  bool pass = false;
  // One line: what happened, in the story's words.
  std::string verdict;
  // Summary lines (per-second tables, counters) printed after the timeline.
  std::vector<std::string> summary;
  sim::Timeline timeline;
  // Flat JSON object members: key → raw JSON value (number, string with quotes, object).
  std::vector<std::pair<std::string, std::string>> json;
  std::uint64_t sim_time_us = 0;
};

// A Result that only carries `error`.
[[nodiscard]] inline Result failure(std::string error) {
  Result r;
  r.error = std::move(error);
  return r;
}

struct Info {
  std::string_view name;
  std::string_view preset;  // the configuration it runs when no --config is given
  std::string_view story;   // one line for --list
};

[[nodiscard]] const std::vector<Info>& list();
[[nodiscard]] Result run(std::string_view name, const Options& options);

// JSON for a Result (one object: scenario, pass, verdict, sim_time_us, the json members).
[[nodiscard]] std::string to_json(std::string_view name, const Result& r);

}  // namespace twtcp::scenario
