// lib/sim/link.cpp
#include "sim/link.hpp"

#include <string>
#include <utility>

#include "sim/timeline.hpp"

namespace twtcp::sim {

Link::Link(Simulator& sim, const LinkParams& params, std::uint64_t seed, std::string name)
    : sim_(sim), params_(params), rng_(seed, 0x4c494e4b /* "LINK" */), name_(std::move(name)) {}

void Link::annotate(std::uint64_t now_us, std::span<const std::uint8_t> frame, const char* what) {
  if (timeline_ == nullptr) return;
  std::string n = what;
  if (!name_.empty()) n += " " + name_;
  timeline_->record(now_us, frame, n);
}

void Link::receive(int /*port*/, std::span<const std::uint8_t> frame, std::uint64_t now_us) {
  ++counters_.sent;
  if (params_.queue_limit != 0 && in_flight_ >= params_.queue_limit) {
    ++counters_.dropped_queue;
    annotate(now_us, frame, "drop: queue full");
    return;
  }
  if (rng_.bernoulli(params_.loss)) {
    ++counters_.dropped_loss;
    annotate(now_us, frame, "drop: loss");
    return;
  }
  std::uint64_t depart = now_us;
  if (params_.bandwidth_bps != 0) {
    const std::uint64_t bits = std::uint64_t{frame.size()} * 8;
    const std::uint64_t tx_us =
        (bits * 1'000'000 + params_.bandwidth_bps - 1) / params_.bandwidth_bps;
    depart = std::max(now_us, busy_until_) + tx_us;
    busy_until_ = depart;
  }
  std::uint64_t at = depart + params_.delay_us + rng_.upto(params_.jitter_us);
  if (rng_.bernoulli(params_.reorder)) {
    ++counters_.reordered;
    at += params_.reorder_extra_us;
    annotate(now_us, frame, "reorder");
  }
  deliver_at(at, frame);
  if (rng_.bernoulli(params_.duplicate)) {
    ++counters_.duplicated;
    annotate(now_us, frame, "dup");
    deliver_at(depart + params_.delay_us + rng_.upto(params_.jitter_us), frame);
  }
}

void Link::deliver_at(std::uint64_t at, std::span<const std::uint8_t> frame) {
  ++in_flight_;
  sim_.schedule(at, [this, f = Frame(frame.begin(), frame.end())](std::uint64_t now) {
    --in_flight_;
    ++counters_.delivered;
    if (dst_ != nullptr) dst_->receive(dst_port_, f, now);
  });
}

}  // namespace twtcp::sim
