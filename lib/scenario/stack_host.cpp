// lib/scenario/stack_host.cpp
#include "scenario/stack_host.hpp"

#include <utility>

namespace twtcp::scenario {

StackHost::StackHost(std::string name, const Config& cfg, const Identity& id,
                     std::uint64_t clock_offset_us)
    : name_(std::move(name)), offset_(clock_offset_us), stack_(cfg, id, *this, clock_offset_us) {}

void StackHost::transmit(std::span<const std::uint8_t> frame) {
  pending_.emplace_back(frame.begin(), frame.end());
}

void StackHost::flush(std::uint64_t now) {
  // Emitting may deliver into another node synchronously (a Tap or a zero-delay path), which
  // may answer into this host: swap the queue out first so re-entry appends to a fresh one.
  while (!pending_.empty()) {
    sending_.swap(pending_);
    for (const sim::Frame& f : sending_) {
      if (timeline_ != nullptr) timeline_->record(now, f, label_ ? name_ + " out" : "");
      if (observer_) observer_(true, f, now);
      emit(kPort, f, now);
    }
    sending_.clear();
  }
}

void StackHost::receive(int, std::span<const std::uint8_t> frame, std::uint64_t now_us) {
  last_ = now_us;
  if (timeline_ != nullptr) timeline_->record(now_us, frame, label_ ? name_ + " in" : "");
  if (observer_) observer_(false, frame, now_us);
  stack_.input(frame, host_time(now_us));
  flush(now_us);
}

void StackHost::poll(std::uint64_t now_us) {
  last_ = now_us;
  stack_.advance(host_time(now_us));
  flush(now_us);
}

std::optional<std::uint64_t> StackHost::next_wakeup() const {
  const std::uint64_t w = stack_.next_wakeup();
  if (w == UINT64_MAX) return std::nullopt;
  return w > offset_ ? w - offset_ : 0;
}

}  // namespace twtcp::scenario
