// lib/sim/simulator.hpp: the virtual clock, the event queue, and the element interfaces.
//
// Everything in the simulator is sans-IO and single-threaded: time is a uint64_t count of
// microseconds that only Simulator advances, and all randomness comes from seeded Rng
// streams, so a seed reproduces a run exactly.
//
// Event queue: a binary min-heap ordered by (time, insertion sequence) rather than
// lib/timer's wheel. The wheel rounds to its tick and cascades; the simulator needs
// exact-microsecond delivery and a strict, deterministic tie order (first scheduled, first
// delivered), and is not a hot path, so O(log n) per event is the simpler right answer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "sim/rng.hpp"

namespace twtcp::sim {

using Frame = std::vector<std::uint8_t>;

// Anything frames can be handed to: a link, a node, a NAT, a tap. `port` says which of the
// receiver's attachment points the frame arrived on (0 for single-port elements). The frame
// is only valid during the call; copy what must outlive it.
class FrameSink {
 public:
  virtual ~FrameSink() = default;
  virtual void receive(int port, std::span<const std::uint8_t> frame, std::uint64_t now_us) = 0;
};

// A host or middlebox. Frames leave through ports attached to sinks (normally Links); a
// TCP stack plugs in by overriding receive() to feed its RX path, poll() to run its timers
// and flush TX through emit(), and next_wakeup() to tell the loop when poll() is due.
class Node : public FrameSink {
 public:
  // Frames emitted on `port` go to `next` (arriving on its `next_port`). Re-attaching
  // replaces the previous target. The sink must outlive the node's use.
  void attach(int port, FrameSink& next, int next_port = 0);

  // Called by the Simulator at (or after) next_wakeup(). Default: nothing to do.
  virtual void poll(std::uint64_t now_us) { (void)now_us; }
  // Earliest time poll() wants to run, or nullopt. Asking for a time at or before a time
  // the node was already polled at is treated as "one microsecond later", so a node cannot
  // stall the clock.
  [[nodiscard]] virtual std::optional<std::uint64_t> next_wakeup() const { return std::nullopt; }

 protected:
  // Hands `frame` to whatever is attached to `port`; false (frame discarded) if nothing is.
  bool emit(int port, std::span<const std::uint8_t> frame, std::uint64_t now_us);

 private:
  friend class Simulator;
  struct Out {
    int port;
    FrameSink* sink;
    int sink_port;
  };
  std::vector<Out> outs_;
  std::optional<std::uint64_t> last_poll_;
};

class Simulator {
 public:
  using Action = std::function<void(std::uint64_t now_us)>;

  explicit Simulator(std::uint64_t seed = 0) : seed_(seed) {}
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  [[nodiscard]] std::uint64_t now() const noexcept { return now_; }
  [[nodiscard]] std::uint64_t seed() const noexcept { return seed_; }
  // An independent generator for one element, derived from the scenario seed.
  [[nodiscard]] Rng rng(std::uint64_t stream) const noexcept { return Rng(seed_, stream); }

  // Runs `action` at `when_us` (clamped to now). Same-time actions run in the order they
  // were scheduled.
  void schedule(std::uint64_t when_us, Action action);

  // Nodes whose poll()/next_wakeup() the loop drives; polled in registration order when
  // several are due at once. The node must outlive the simulator's use of it.
  void add_node(Node& node);

  // Advances to the next due thing and runs it: one queued event if one is due no later than
  // any node wakeup (events first on ties), else one poll of every due node. False when
  // nothing is pending at all.
  bool step();
  // Runs everything due at or before `until_us`, then sets the clock to `until_us`. Returns
  // the number of steps taken.
  std::size_t run_until(std::uint64_t until_us);
  // Runs until nothing is pending or `max_steps` steps were taken; returns steps taken.
  std::size_t run(std::size_t max_steps = SIZE_MAX);

  [[nodiscard]] std::size_t pending_events() const noexcept { return heap_.size(); }
  // The time the next step would run at, if anything is pending.
  [[nodiscard]] std::optional<std::uint64_t> next_time() const;

 private:
  struct Event {
    std::uint64_t at;
    std::uint64_t seq;
    Action action;
  };
  // std::push_heap builds a max-heap; "greater" puts the earliest (then first-inserted) on top.
  struct Later {
    bool operator()(const Event& a, const Event& b) const noexcept {
      return a.at != b.at ? a.at > b.at : a.seq > b.seq;
    }
  };
  [[nodiscard]] std::optional<std::uint64_t> wakeup_of(const Node& n) const;

  std::uint64_t seed_;
  std::uint64_t now_ = 0;
  std::uint64_t next_seq_ = 0;
  std::vector<Event> heap_;
  std::vector<Node*> nodes_;
};

}  // namespace twtcp::sim
