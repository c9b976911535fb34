// lib/sim/scripted_host.hpp: a node that sends pre-scripted frames at given times and records
// everything it receives. The scripted segment source for scenarios (a peer whose segments
// are dictated by the story, e.g. a stale SYN or the RST of a TIME-WAIT assassination), and
// the probe at the end of a wire in tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sim/simulator.hpp"
#include "wire/segment.hpp"

namespace twtcp::sim {

class ScriptedHost : public Node {
 public:
  static constexpr int kPort = 0;  // the host's only port

  struct Received {
    std::uint64_t at_us;
    Frame frame;
  };
  // Called for each received frame after it was recorded; may call send_now() to answer.
  using Responder = std::function<void(ScriptedHost&, const Received&)>;

  explicit ScriptedHost(std::string name = {}) : name_(std::move(name)) {}

  // Queues a segment built with wire::build_segment (all checksums computed) to leave at
  // `at_us`. False, with nothing queued, if the spec does not make a valid frame.
  bool send_at(std::uint64_t at_us, const wire::SegmentSpec& spec,
               std::span<const std::uint8_t> payload = {});
  // Queues arbitrary bytes (malformed frames included) to leave at `at_us`.
  void send_raw_at(std::uint64_t at_us, Frame frame);
  // Emits immediately (from a responder or a scenario step running at `now_us`).
  bool send_now(std::uint64_t now_us, const wire::SegmentSpec& spec,
                std::span<const std::uint8_t> payload = {});

  void set_responder(Responder r) { responder_ = std::move(r); }

  void receive(int port, std::span<const std::uint8_t> frame, std::uint64_t now_us) override;
  void poll(std::uint64_t now_us) override;
  [[nodiscard]] std::optional<std::uint64_t> next_wakeup() const override;

  [[nodiscard]] const std::vector<Received>& received() const noexcept { return received_; }
  [[nodiscard]] std::size_t sent() const noexcept { return sent_; }
  [[nodiscard]] std::size_t scripted_pending() const noexcept { return script_.size(); }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  void clear_received() noexcept { received_.clear(); }

 private:
  std::string name_;
  // multimap keeps insertion order among equal times, which is the tie rule we promise.
  std::multimap<std::uint64_t, Frame> script_;
  std::vector<Received> received_;
  Responder responder_;
  std::size_t sent_ = 0;
};

// Builds one frame for `spec` (all checksums), or an empty Frame if it does not fit.
[[nodiscard]] Frame build_frame(const wire::SegmentSpec& spec,
                                std::span<const std::uint8_t> payload = {});

}  // namespace twtcp::sim
