// lib/sim/scripted_host.cpp
#include "sim/scripted_host.hpp"

#include <utility>

namespace twtcp::sim {

Frame build_frame(const wire::SegmentSpec& spec, std::span<const std::uint8_t> payload) {
  Frame f(wire::segment_header_length(spec) + payload.size());
  const std::size_t n = wire::build_segment(f, spec, payload);
  f.resize(n);
  return f;
}

bool ScriptedHost::send_at(std::uint64_t at_us, const wire::SegmentSpec& spec,
                           std::span<const std::uint8_t> payload) {
  Frame f = build_frame(spec, payload);
  if (f.empty()) return false;
  script_.emplace(at_us, std::move(f));
  return true;
}

void ScriptedHost::send_raw_at(std::uint64_t at_us, Frame frame) {
  script_.emplace(at_us, std::move(frame));
}

bool ScriptedHost::send_now(std::uint64_t now_us, const wire::SegmentSpec& spec,
                            std::span<const std::uint8_t> payload) {
  Frame f = build_frame(spec, payload);
  if (f.empty()) return false;
  ++sent_;
  emit(kPort, f, now_us);
  return true;
}

void ScriptedHost::receive(int /*port*/, std::span<const std::uint8_t> frame,
                           std::uint64_t now_us) {
  received_.push_back(Received{now_us, Frame(frame.begin(), frame.end())});
  if (responder_) {
    // Copy: the responder may receive more frames (and grow received_) while it runs.
    const Received r = received_.back();
    responder_(*this, r);
  }
}

void ScriptedHost::poll(std::uint64_t now_us) {
  while (!script_.empty() && script_.begin()->first <= now_us) {
    Frame f = std::move(script_.begin()->second);
    script_.erase(script_.begin());
    ++sent_;
    emit(kPort, f, now_us);
  }
}

std::optional<std::uint64_t> ScriptedHost::next_wakeup() const {
  if (script_.empty()) return std::nullopt;
  return script_.begin()->first;
}

}  // namespace twtcp::sim
