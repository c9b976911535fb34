// lib/tcp/stack.hpp: the entry types the Stack keeps in its flow table (internal; the
// public API is include/twtcp/stack.hpp). Exposed so tests can measure the TIME_WAIT entry.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "flow/key.hpp"
#include "flow/table.hpp"
#include "tcp/connection.hpp"
#include "timer/wheel.hpp"
#include "timewait/types.hpp"
#include "twtcp/stack.hpp"

namespace twtcp::tcp {

using FlowKey = flow::FlowKeyV4;
using FlowHeader = flow::FlowEntryHeader<FlowKey>;

// A live connection: pooled (the pool grows up to twtcp.max_connections, slots are reused),
// the Connection itself is rebuilt per open (its two byte rings are its only allocation).
struct ConnEntry : FlowHeader {
  std::optional<Connection> conn;
  timer::Timer timer;  // bound to conn->next_deadline()
  // Shared with the listener (or owned alone, for connect()): accepting a SYN copies a
  // pointer, not six std::functions that may allocate.
  std::shared_ptr<const Callbacks> cb;
  std::uint32_t slot = 0;
  std::uint32_t gen = 1;
  bool live = false;
  bool passive = false;
  // Callbacks of this entry running right now: a slot freed meanwhile (the app closed the
  // connection from its own callback) goes back to the pool only when they have returned,
  // so the std::function being executed is not destroyed under it.
  std::uint32_t busy = 0;
  bool release_pending = false;
};

// A compact TIME_WAIT entry: header (key + kind, 16 bytes) + TwEntryState (40) + the wheel's
// Timer (32) = 88 bytes; free slots are tracked in a separate index stack (4 bytes each).
struct TwEntry : FlowHeader {
  timewait::TwEntryState st;
  timer::Timer timer;
};

}  // namespace twtcp::tcp
