// lib/scenario/scenarios.hpp: the scenario entry points (registered in scenario.cpp) and the
// small HTTP/1.0-like applications they run on their stacks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "scenario/scenario.hpp"
#include "scenario/stack_host.hpp"

namespace twtcp::scenario {

Result run_recycle_nat(const Options& options);
Result run_port_exhaustion(const Options& options);
Result run_syn_in_timewait(const Options& options);
Result run_reuse_no_timestamps(const Options& options);
Result run_lossy_transfer(const Options& options);
Result run_syn_flood(const Options& options);

// A server that answers any request with a short response and closes first, so TIME_WAIT
// lands on the server (the seed stories' web server).
void serve_http_close_first(StackHost& host, std::uint16_t port);

// One client fetch: connect, send a request, read the response, close after the server's
// FIN. Times are simulator times; a field stays empty until it happens.
struct Fetch {
  std::optional<std::uint64_t> started_us, connected_us, finished_us;
  std::optional<CloseReason> failed;  // the connect or the exchange ended abnormally
  std::uint64_t response_bytes = 0;
  [[nodiscard]] bool done() const noexcept { return finished_us.has_value() || failed; }
};
// Starts the fetch at sim time `now`; `fetch` must outlive it. local_port 0 = autobind.
// Returns the connect() error (0 when the SYN went out).
int start_fetch(StackHost& host, std::uint64_t now, std::uint32_t server_addr,
                std::uint16_t server_port, Fetch& fetch, std::uint16_t local_port = 0);

}  // namespace twtcp::scenario
