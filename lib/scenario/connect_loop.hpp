// lib/scenario/connect_loop.hpp: SPEC §9's port-exhaustion harness on the simulator. A client
// Stack runs a blocking connect()+close() loop, one connection at a time, against a server
// Stack that closes after the client's FIN (so TIME_WAIT lands on the client), and counts
// successful connects per second.
//
// Pacing follows the Linux experiment's python loop: an iteration that connected waits
// `loop_gap_us` before the next connect(), one that got EADDRNOTAVAIL retries after
// `retry_gap_us` (SPEC §9 saw ~455 connects/s with TIME_WAIT off and ~830 EADDRNOTAVAIL/s).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/timeline.hpp"
#include "twtcp/config.hpp"

namespace twtcp::scenario {

enum class ClientClose : std::uint8_t { kFin, kLinger0 };

struct LoopSpec {
  Config client;
  Config server;
  std::uint32_t client_addr = 0;
  std::uint32_t server_addr = 0;
  std::uint16_t server_port = 5000;
  std::uint64_t seconds = 5;
  ClientClose close = ClientClose::kFin;
  bool server_closes = true;  // false: the server never closes (orphan FIN_WAIT2, E7)
  std::uint64_t loop_gap_us = 2'000;
  std::uint64_t retry_gap_us = 1'200;
  std::uint64_t one_way_delay_us = 25;
  std::uint64_t seed = 1;
  sim::Timeline* timeline = nullptr;  // client-side capture of the first frames, if set
  std::size_t timeline_frames = 0;    // how many frames to capture
};

struct LoopResult {
  std::vector<std::uint64_t> per_second;  // successful connects in each second
  std::uint64_t successes = 0;
  std::uint64_t eaddrnotavail = 0;
  std::uint64_t failed = 0;  // connects that started but did not complete (timeout, reset)
  std::uint64_t timewait_at_end = 0;
  std::uint64_t TWRecycled = 0, TWKilled = 0, TW = 0, TCPTimeWaitOverflow = 0;
  std::uint64_t TCPAbortOnData = 0, OutRsts = 0;
  std::string client_counters_json;
  std::string server_counters_json;
};

[[nodiscard]] LoopResult run_connect_loop(const LoopSpec& spec);

}  // namespace twtcp::scenario
