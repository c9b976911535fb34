#include <gtest/gtest.h>

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "sim/timeline.hpp"
#include "wire/checksum.hpp"

namespace twtcp::sim {
namespace {

using testing::kClient1;
using testing::kServer;
using testing::spec;
namespace tf = wire::tcp_flags;

TEST(Timeline, FormatsASynWithOptionsLikeTcpdump) {
  auto s = spec(kClient1, 40000, kServer, 80, tf::kSyn, 1000);
  s.tcp.options.mss = 1460;
  s.tcp.options.ts = wire::TcpTimestamps{5, 0};
  Timeline tl;
  tl.record(12'345'678, build_frame(s));
  ASSERT_EQ(tl.lines().size(), 1u);
  EXPECT_EQ(tl.lines()[0],
            "12.345678 198.18.1.2.40000 > 198.18.0.1.80: Flags [S], seq 1000, win 65535, "
            "options [mss 1460,nop,nop,TS val 5 ecr 0], length 0");
}

TEST(Timeline, FormatsALinuxSynAckWithEveryOption) {
  auto s = spec(kServer, 80, kClient1, 40000, tf::kSyn | tf::kAck, 7, 1001);
  s.tcp.window = 65160;
  s.tcp.options.mss = 1460;
  s.tcp.options.sack_permitted = true;
  s.tcp.options.ts = wire::TcpTimestamps{123, 5};
  s.tcp.options.wscale = 7;
  EXPECT_EQ(format_time(60'000'001) + " " + format_frame(build_frame(s)),
            "60.000001 198.18.0.1.80 > 198.18.1.2.40000: Flags [S.], seq 7, ack 1001, win 65160, "
            "options [mss 1460,sackOK,TS val 123 ecr 5,nop,wscale 7], length 0");
}

TEST(Timeline, FormatsDataWithASequenceRangeAndRstWithoutAck) {
  const std::vector<std::uint8_t> data(100, 'x');
  auto d = spec(kClient1, 40000, kServer, 80, tf::kPsh | tf::kAck, 1001, 8);
  EXPECT_EQ(format_frame(build_frame(d, data)),
            "198.18.1.2.40000 > 198.18.0.1.80: Flags [P.], seq 1001:1101, ack 8, win 65535, "
            "length 100");
  auto r = spec(kClient1, 40000, kServer, 80, tf::kRst, 8);
  r.tcp.window = 0;
  EXPECT_EQ(format_frame(build_frame(r)),
            "198.18.1.2.40000 > 198.18.0.1.80: Flags [R], seq 8, win 0, length 0");
  auto a = spec(kClient1, 40000, kServer, 80, tf::kAck, 1001, 8);
  EXPECT_EQ(format_frame(build_frame(a)),
            "198.18.1.2.40000 > 198.18.0.1.80: Flags [.], ack 8, win 65535, length 0");
  auto f = spec(kClient1, 40000, kServer, 80, tf::kFin | tf::kAck, 1001, 8);
  EXPECT_EQ(format_frame(build_frame(f)),
            "198.18.1.2.40000 > 198.18.0.1.80: Flags [F.], seq 1001, ack 8, win 65535, length 0");
}

TEST(Timeline, FlagsBadChecksumsAndMalformedFramesWithoutCrashing) {
  Frame f = build_frame(spec(kClient1, 40000, kServer, 80, tf::kSyn, 1));
  f.back() ^= 0xff;  // corrupt the TCP header (urgent pointer)
  EXPECT_NE(format_frame(f).find("[bad cksum]"), std::string::npos);
  EXPECT_EQ(format_frame(std::vector<std::uint8_t>(5, 0)),
            "[malformed: " + std::string(wire::reason(wire::ParseError::kEthernetTruncated)) +
                "] length 5");
  Frame arp(42, 0);
  arp[12] = 0x08;
  arp[13] = 0x06;
  EXPECT_EQ(format_frame(arp), "ethertype 0x0806, length 42");
  for (std::size_t n = 0; n < f.size(); ++n) {  // every truncation must be handled
    (void)format_frame(std::span<const std::uint8_t>(f).first(n));
  }
}

TEST(Timeline, NotesTapsAndEcho) {
  std::ostringstream os;
  Timeline tl;
  tl.echo_to(&os);
  testing::Recorder r;
  Tap tap(tl, "nat-out");
  tap.connect(r);
  tap.receive(0, testing::numbered(1), 1'500'000);
  tl.note(2'000'000, "verdict: ok");
  ASSERT_EQ(r.hits.size(), 1u);
  ASSERT_EQ(tl.lines().size(), 2u);
  EXPECT_EQ(tl.lines()[0],
            "1.500000 198.18.1.2.40000 > 198.18.0.1.80: Flags [.], ack 0, win 65535, length 0 "
            "[nat-out]");
  EXPECT_EQ(tl.lines()[1], "2.000000 verdict: ok");
  EXPECT_EQ(os.str(), tl.str());
}

}  // namespace
}  // namespace twtcp::sim
