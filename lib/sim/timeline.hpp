// lib/sim/timeline.hpp: a tcpdump-like record of frames seen at tap points, plus drop and
// duplication annotations from links and the NAT, so a scenario prints as a capture.
//
// Line format (tcpdump -tt -n -S without "IP ", times relative to the simulation's zero):
//   12.345678 198.18.1.2.40000 > 198.18.0.1.80: Flags [S], seq 1000, win 65535,
//     options [mss 1460,nop,nop,TS val 5 ecr 0], length 0
// (one line). Sequence numbers are absolute (tcpdump -S): relative numbers need per-flow
// state and would hide ISN games such as the TIME_WAIT reopen's snd_nxt + 65537. Options are
// printed as they sit on the wire, NOPs included, as tcpdump does. An annotation, if any,
// follows in brackets: "... length 0 [drop: loss c1>nat]".
#pragma once

#include <cstdint>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sim/simulator.hpp"

namespace twtcp::sim {

// "S.MMMMMM" for a microsecond time.
[[nodiscard]] std::string format_time(std::uint64_t us);
// One tcpdump-style line for `frame` (without time or annotation): the TCP summary, or
// "IP proto N ..., length L" / "ethertype 0x.... length L" / "[malformed: reason] length L".
// A TCP or IPv4 checksum that does not verify is flagged "[bad cksum]".
[[nodiscard]] std::string format_frame(std::span<const std::uint8_t> frame);

class Timeline {
 public:
  // Appends "<time> <frame summary>[ [note]]".
  void record(std::uint64_t now_us, std::span<const std::uint8_t> frame,
              std::string_view note = {});
  // Appends "<time> <text>" (verdicts, scenario milestones).
  void note(std::uint64_t now_us, std::string_view text);

  // Each line is also written to `out` (followed by '\n') as it is recorded; nullptr stops.
  void echo_to(std::ostream* out) noexcept { echo_ = out; }

  [[nodiscard]] const std::vector<std::string>& lines() const noexcept { return lines_; }
  // All lines, each followed by '\n'.
  [[nodiscard]] std::string str() const;
  void clear() noexcept { lines_.clear(); }

 private:
  void push(std::string line);
  std::vector<std::string> lines_;
  std::ostream* echo_ = nullptr;
};

// A pass-through tap point: records every frame into a Timeline, then forwards it unchanged.
// With a non-empty label, lines carry it as their annotation ("[label]").
class Tap : public FrameSink {
 public:
  explicit Tap(Timeline& timeline, std::string label = {})
      : timeline_(timeline), label_(std::move(label)) {}
  void connect(FrameSink& next, int next_port = 0) noexcept {
    next_ = &next;
    next_port_ = next_port;
  }
  void receive(int port, std::span<const std::uint8_t> frame, std::uint64_t now_us) override;

 private:
  Timeline& timeline_;
  std::string label_;
  FrameSink* next_ = nullptr;
  int next_port_ = 0;
};

}  // namespace twtcp::sim
