// tests/tcp/test_syncookie.cpp: the SYN cookie maths of lib/tcp/syncookie.hpp: ISN and TSval
// round trips for every MSS index and option combination, and the rejections (other secret,
// other tuple, other peer ISN, too old, minute boundary).
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>

#include "tcp/syncookie.hpp"

namespace twtcp::tcp::syncookie {
namespace {

const Secret kSecret{{0x0123456789abcdefULL, 0xfedcba9876543210ULL},
                     {0x1111111122222222ULL, 0x3333333344444444ULL}};
const Tuple kTuple{0xC6120001, 0xC6130A0B, 80, 40000};

TEST(SynCookie, MssIndexPicksTheLargestEntryNotAboveThePeers) {
  EXPECT_EQ(mss_index(std::nullopt), 0);
  EXPECT_EQ(mss_index(88), 0);
  EXPECT_EQ(mss_index(536), 0);
  EXPECT_EQ(mss_index(1299), 0);
  EXPECT_EQ(mss_index(1300), 1);
  EXPECT_EQ(mss_index(1439), 1);
  EXPECT_EQ(mss_index(1440), 2);
  EXPECT_EQ(mss_index(1459), 2);
  EXPECT_EQ(mss_index(1460), 3);
  EXPECT_EQ(mss_index(9000), 3);
}

TEST(SynCookie, IsnRoundTripsEveryMssIndexWithinTwoMinutes) {
  for (std::uint32_t minute : {0u, 1u, 255u, 256u, 1000u, 0xffffffffu}) {
    for (std::uint8_t i = 0; i < kMssTable.size(); ++i) {
      for (std::uint32_t peer_isn : {0u, 12345u, 0xfffffff0u}) {
        const std::uint32_t isn = make_isn(kSecret, kTuple, peer_isn, minute, i);
        EXPECT_EQ(check_isn(kSecret, kTuple, peer_isn, isn, minute), kMssTable[i]);
        EXPECT_EQ(check_isn(kSecret, kTuple, peer_isn, isn, minute + 1), kMssTable[i]);
        EXPECT_EQ(check_isn(kSecret, kTuple, peer_isn, isn, minute + 2), std::nullopt);
        EXPECT_EQ(check_isn(kSecret, kTuple, peer_isn, isn, minute - 1), std::nullopt);
      }
    }
  }
}

TEST(SynCookie, MinuteBoundaryIsAtSixtySeconds) {
  const std::uint64_t made_us = 59'999'999;  // the last µs of minute 0
  const std::uint32_t isn = make_isn(kSecret, kTuple, 7, minute_of(made_us), 3);
  EXPECT_EQ(check_isn(kSecret, kTuple, 7, isn, minute_of(made_us + 1)), 1460);  // minute 1
  EXPECT_EQ(check_isn(kSecret, kTuple, 7, isn, minute_of(119'999'999)), 1460);  // still 1
  EXPECT_EQ(check_isn(kSecret, kTuple, 7, isn, minute_of(120'000'000)), std::nullopt);
}

TEST(SynCookie, OtherSecretTupleOrPeerIsnIsRejected) {
  const std::uint32_t isn = make_isn(kSecret, kTuple, 1000, 5, 2);
  Secret other = kSecret;
  other.h2.k0 ^= 1;
  EXPECT_EQ(check_isn(other, kTuple, 1000, isn, 5), std::nullopt);
  other = kSecret;
  other.h1.k1 ^= 1;
  EXPECT_EQ(check_isn(other, kTuple, 1000, isn, 5), std::nullopt);
  Tuple t = kTuple;
  t.remote_port ^= 1;
  EXPECT_EQ(check_isn(kSecret, t, 1000, isn, 5), std::nullopt);
  t = kTuple;
  t.remote_addr ^= 0x100;
  EXPECT_EQ(check_isn(kSecret, t, 1000, isn, 5), std::nullopt);
  // The peer ISN and the MSS index enter linearly (as in Linux): a shift of a few units
  // moves to a neighbouring index, anything larger breaks the 24-bit check or the minute.
  EXPECT_EQ(check_isn(kSecret, kTuple, 1000 - 1, isn, 5), 1460);
  EXPECT_EQ(check_isn(kSecret, kTuple, 1000 + 0x1000, isn, 5), std::nullopt);
  EXPECT_EQ(check_isn(kSecret, kTuple, 1000, isn + 2, 5), std::nullopt);
  EXPECT_EQ(check_isn(kSecret, kTuple, 1000, isn + 0x1000, 5), std::nullopt);
  EXPECT_EQ(check_isn(kSecret, kTuple, 1000, isn + (1u << 24), 5), std::nullopt);
}

TEST(SynCookie, ForgedAcksAlmostNeverPass) {
  // An attacker guessing the ACK number: a pass needs the right minute byte (2 in 256) and
  // the 24-bit check (4 in 2^24). 200k guesses are expected to find none.
  std::uint32_t x = 0x9e3779b9u;
  int passed = 0;
  for (int n = 0; n < 200'000; ++n) {
    x = x * 1664525u + 1013904223u;
    if (check_isn(kSecret, kTuple, 1000, x, 5)) ++passed;
  }
  EXPECT_EQ(passed, 0);
}

TEST(SynCookie, TsvalRoundTripsEveryOptionCombination) {
  for (std::uint32_t now : {0u, 63u, 64u, 1000u, 123456789u, 0xffffffffu}) {
    for (int ws = -1; ws <= 14; ++ws) {
      for (int sack = 0; sack < 2; ++sack) {
        for (int ecn = 0; ecn < 2; ++ecn) {
          TsOptions o;
          if (ws >= 0) o.wscale = static_cast<std::uint8_t>(ws);
          o.sack_ok = sack != 0;
          o.ecn_ok = ecn != 0;
          const std::uint32_t ts = encode_ts(now, o);
          // Never in the future, at most 64 ms in the past: the peer's PAWS and our RTT
          // sample see an ordinary timestamp.
          EXPECT_LE(static_cast<std::int32_t>(ts - now), 0);
          EXPECT_LT(now - ts, 64u);
          const auto d = decode_ts(ts, true, true);
          ASSERT_TRUE(d.has_value());
          EXPECT_EQ(d->wscale, o.wscale);
          EXPECT_EQ(d->sack_ok, o.sack_ok);
          EXPECT_EQ(d->ecn_ok, o.ecn_ok);
        }
      }
    }
  }
}

TEST(SynCookie, TsvalClaimingDisabledOptionsIsRejected) {
  TsOptions o;
  o.wscale = 7;
  EXPECT_FALSE(decode_ts(encode_ts(5000, o), true, false).has_value());
  EXPECT_TRUE(decode_ts(encode_ts(5000, o), false, true).has_value());
  o = {};
  o.sack_ok = true;
  EXPECT_FALSE(decode_ts(encode_ts(5000, o), false, true).has_value());
  EXPECT_TRUE(decode_ts(encode_ts(5000, o), true, false).has_value());
  o = {};  // neither: accepted whatever the stack has on
  EXPECT_TRUE(decode_ts(encode_ts(5000, o), false, false).has_value());
}

}  // namespace
}  // namespace twtcp::tcp::syncookie
