// lib/scenario/stack_host.hpp: a simulator Node that runs a twtcp Stack, so scenarios wire
// real stacks to links, NATs and scripted peers.
//
// Each host has its own clock: host time = simulator time + clock_offset_us. That is how two
// clients behind one NAT get unrelated TCP timestamp clocks (and ISN clocks), or how a
// rebooted client comes back with a clock far behind: exactly the conditions of SPEC §5.3.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "sim/simulator.hpp"
#include "sim/timeline.hpp"
#include "twtcp/stack.hpp"

namespace twtcp::scenario {

class StackHost : public sim::Node, private TxSink {
 public:
  static constexpr int kPort = 0;

  // `clock_offset_us` is this host's uptime when the simulation starts.
  StackHost(std::string name, const Config& cfg, const Identity& id,
            std::uint64_t clock_offset_us = 0);

  [[nodiscard]] Stack& stack() noexcept { return stack_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] std::uint64_t host_time(std::uint64_t sim_now) const noexcept {
    return sim_now + offset_;
  }

  // Records every frame this host sends and receives (tcpdump on the host), annotated with
  // the host's name when `label` is set.
  void capture(sim::Timeline* timeline, bool label = false) noexcept {
    timeline_ = timeline;
    label_ = label;
  }

  // Runs an application action at sim time `now`: brings the stack's clock to `now` first
  // (the Stack acts at the time of its last input/advance), then sends what it queued.
  template <typename F>
  auto act(std::uint64_t now, F&& f) {
    last_ = now;
    stack_.advance(host_time(now));
    if constexpr (std::is_void_v<decltype(f(stack_))>) {
      f(stack_);
      flush(now);
    } else {
      auto r = f(stack_);
      flush(now);
      return r;
    }
  }
  // Called for every frame this host sends (outgoing = true) or receives, before the stack
  // sees it: scenarios read the story's sequence numbers from it.
  using Observer =
      std::function<void(bool outgoing, std::span<const std::uint8_t> frame, std::uint64_t now)>;
  void observe(Observer o) { observer_ = std::move(o); }

  // Simulator time of the last input, poll or act: "now" for code running in a callback.
  [[nodiscard]] std::uint64_t last_time() const noexcept { return last_; }
  // Sends the frames the stack queued (callbacks that call the Stack end with this).
  void flush(std::uint64_t now);

  void receive(int port, std::span<const std::uint8_t> frame, std::uint64_t now_us) override;
  void poll(std::uint64_t now_us) override;
  [[nodiscard]] std::optional<std::uint64_t> next_wakeup() const override;

 private:
  void transmit(std::span<const std::uint8_t> frame) override;

  std::string name_;
  std::uint64_t offset_;
  std::vector<sim::Frame> pending_;
  std::vector<sim::Frame> sending_;
  sim::Timeline* timeline_ = nullptr;
  bool label_ = false;
  std::uint64_t last_ = 0;
  Observer observer_;
  Stack stack_;  // last: built with *this as its TxSink, after the queues exist
};

}  // namespace twtcp::scenario
