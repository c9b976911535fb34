// tests/timewait/fixture.hpp: one helper per TW substate and one template segment, varied
// per case (the smoltcp socket_time_wait()/send! style), plus a fixture parameterised over
// the kernel models.
#pragma once

#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "timewait/timewait.hpp"

namespace twtcp {
// gtest prints parameters with this (found by ADL) instead of raw bytes.
inline void PrintTo(KernelModel m, std::ostream* os) {
  *os << "Linux " << to_string(m);
}
}  // namespace twtcp

namespace twtcp::timewait::test {

inline constexpr std::uint64_t kSec = 1'000'000;
inline constexpr std::uint64_t kMs = 1'000;
// The TW was entered at kT0 (10 000 s on the virtual clock, so second 0 is not involved) and
// most cases poke it 5 s later, at kNow.
inline constexpr std::uint64_t kT0 = 10'000 * kSec;
inline constexpr std::uint64_t kNow = kT0 + 5 * kSec;

inline constexpr std::uint32_t kRcvNxt = 0x10000000;
inline constexpr std::uint32_t kSndNxt = 0x50000000;
inline constexpr std::uint32_t kRcvWnd = 131072;
inline constexpr std::uint8_t kWscale = 7;
inline constexpr std::uint32_t kTsRecent = 100000;
inline constexpr std::uint32_t kTsOffset = 777;

// A TIME_WAIT entry whose connection used timestamps; last TS seen at kT0.
inline TwEntryState tw_time_wait() {
  TwEntryState tw;
  tw.rcv_nxt = kRcvNxt;
  tw.snd_nxt = kSndNxt;
  tw.rcv_wnd = kRcvWnd;
  tw.rcv_wscale = kWscale;
  tw.ts_recent = kTsRecent;
  tw.ts_recent_stamp_s = secs32(kT0);
  tw.ts_offset = kTsOffset;
  tw.entry_stamp_ms = ms32(kT0);
  tw.substate = TwSubstate::kTimeWait;
  return tw;
}

// The same entry standing in for an orphaned FIN_WAIT2 (the peer has not sent its FIN).
inline TwEntryState tw_fin_wait2() {
  TwEntryState tw = tw_time_wait();
  tw.substate = TwSubstate::kFinWait2;
  return tw;
}

// A connection that never negotiated timestamps.
inline TwEntryState tw_without_ts(TwEntryState tw) {
  tw.ts_recent = 0;
  tw.ts_recent_stamp_s = 0;
  return tw;
}

// The template: a pure ACK exactly at rcv_nxt, acking everything we sent, with a TSval
// newer than ts_recent. Cases change one or two fields.
inline TwSegment seg() {
  TwSegment s;
  s.seq = kRcvNxt;
  s.ack = kSndNxt;
  s.ack_flag = true;
  s.has_ts = true;
  s.tsval = kTsRecent + 10;
  s.tsecr = 4242;
  return s;
}

inline TwSegment rst_at(std::uint32_t seq) {
  TwSegment s;
  s.seq = seq;
  s.rst = true;
  return s;
}

inline TwSegment syn_at(std::uint32_t seq) {
  TwSegment s;
  s.seq = seq;
  s.syn = true;
  return s;
}

inline std::string model_param_name(const ::testing::TestParamInfo<KernelModel>& info) {
  std::string name = "Linux" + std::string(to_string(info.param));
  for (char& c : name) {
    if (c == '.') c = '_';
  }
  return name;
}

// Parameterised over KernelModel; policy() is that release's defaults.
class ModelTest : public ::testing::TestWithParam<KernelModel> {
 protected:
  [[nodiscard]] KernelModel model() const { return GetParam(); }
  [[nodiscard]] bool at_least(KernelModel m) const { return GetParam() >= m; }
  TimeWaitPolicy policy() const { return policy_for_model(GetParam()); }
};

}  // namespace twtcp::timewait::test
