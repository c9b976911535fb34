// lib/sim/link.hpp: one direction of a wire with netem-like impairments, and a duplex pair.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "sim/rng.hpp"
#include "sim/simulator.hpp"

namespace twtcp::sim {

class Timeline;

struct LinkParams {
  std::uint64_t delay_us = 0;   // propagation delay, every frame
  std::uint64_t jitter_us = 0;  // plus uniform [0, jitter_us]; like netem, this can reorder
  double loss = 0.0;            // probability a frame is dropped
  double duplicate = 0.0;       // probability a delivered frame is delivered twice
  double reorder = 0.0;         // probability a frame is held back by reorder_extra_us
  std::uint64_t reorder_extra_us = 0;
  std::uint64_t bandwidth_bps = 0;  // 0: infinite; else frames serialize one after another
  // Frames accepted but not yet delivered (buffer plus wire); a frame arriving at a full
  // link is dropped and counted as dropped_queue. 0 means unbounded.
  std::size_t queue_limit = 1024;
};

struct LinkCounters {
  std::uint64_t sent = 0;       // frames offered to the link
  std::uint64_t delivered = 0;  // frames handed to the far end, duplicates included
  std::uint64_t dropped_loss = 0;
  std::uint64_t dropped_queue = 0;
  std::uint64_t duplicated = 0;  // extra copies made
  std::uint64_t reordered = 0;   // frames given the reorder delay
};

// Frames offered through receive() (any port) arrive at the connected sink after the
// configured delay. Decisions per frame, in this order so that a seed fixes them all: queue
// bound, loss, jitter, reorder, then duplication (the copy draws its own jitter). The link
// schedules closures that refer to itself: it must outlive the simulator's run.
class Link : public FrameSink {
 public:
  Link(Simulator& sim, const LinkParams& params, std::uint64_t seed, std::string name = {});

  void connect(FrameSink& dst, int dst_port = 0) noexcept {
    dst_ = &dst;
    dst_port_ = dst_port;
  }
  // Drops, duplicates and reorders are annotated there (deliveries are not: put a Tap
  // where a capture should be).
  void set_timeline(Timeline* timeline) noexcept { timeline_ = timeline; }

  void receive(int port, std::span<const std::uint8_t> frame, std::uint64_t now_us) override;

  [[nodiscard]] const LinkCounters& counters() const noexcept { return counters_; }
  [[nodiscard]] std::size_t in_flight() const noexcept { return in_flight_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] const LinkParams& params() const noexcept { return params_; }
  void set_params(const LinkParams& p) noexcept { params_ = p; }

 private:
  void deliver_at(std::uint64_t at, std::span<const std::uint8_t> frame);
  void annotate(std::uint64_t now_us, std::span<const std::uint8_t> frame, const char* what);

  Simulator& sim_;
  LinkParams params_;
  Rng rng_;
  std::string name_;
  FrameSink* dst_ = nullptr;
  int dst_port_ = 0;
  Timeline* timeline_ = nullptr;
  LinkCounters counters_;
  std::size_t in_flight_ = 0;
  std::uint64_t busy_until_ = 0;  // end of the last serialization (bandwidth model)
};

// Two Links, a->b and b->a, wired between two nodes' ports.
struct DuplexLink {
  DuplexLink(Simulator& sim, const LinkParams& params, std::uint64_t seed,
             const std::string& name = "link")
      : ab(sim, params, seed * 2 + 0, name + ">"), ba(sim, params, seed * 2 + 1, name + "<") {}
  // a's `a_port` sends into ab, which delivers to b's `b_port`; and the reverse.
  void connect(Node& a, int a_port, Node& b, int b_port) {
    a.attach(a_port, ab);
    ab.connect(b, b_port);
    b.attach(b_port, ba);
    ba.connect(a, a_port);
  }
  void set_timeline(Timeline* t) noexcept {
    ab.set_timeline(t);
    ba.set_timeline(t);
  }
  Link ab;
  Link ba;
};

}  // namespace twtcp::sim
