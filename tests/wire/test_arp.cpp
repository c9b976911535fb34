#include <gtest/gtest.h>

#include <vector>

#include "frames.hpp"
#include "wire/arp.hpp"
#include "wire/ethernet.hpp"

namespace twtcp::wire {
namespace {

using Bytes = std::vector<std::uint8_t>;
constexpr MacAddr kMac1{0x02, 0, 0, 0, 0, 0x01};
constexpr MacAddr kMac2{0x02, 0, 0, 0, 0, 0x02};

TEST(Ethernet, ParsesHeaderAndRejectsShortFrames) {
  auto r = parse_ethernet(testing::kSynFrame);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->dst(), kMac2);
  EXPECT_EQ(r->src(), kMac1);
  EXPECT_EQ(r->ethertype(), kEtherTypeIpv4);
  EXPECT_EQ(r->payload().size(), testing::kSynFrame.size() - 14);
  for (std::size_t n = 0; n < 14; ++n) {
    const Bytes cut(testing::kSynFrame.begin(),
                    testing::kSynFrame.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_EQ(parse_ethernet(cut).error, ParseError::kEthernetTruncated);
  }
}

TEST(Arp, ParsesScapyRequest) {
  auto r = parse_arp_frame(testing::kArpRequestFrame);
  ASSERT_TRUE(r.ok()) << r.why();
  EXPECT_EQ(r->op(), ArpOp::kRequest);
  EXPECT_EQ(r->sender_mac(), kMac1);
  EXPECT_EQ(r->sender_ip(), ipv4_addr(198, 18, 0, 1));
  EXPECT_EQ(r->target_mac(), MacAddr{});
  EXPECT_EQ(r->target_ip(), ipv4_addr(198, 18, 0, 2));
}

TEST(Arp, BuildRequestMatchesScapyBytes) {
  std::uint8_t buf[64];
  const std::size_t n =
      build_arp_request(buf, kMac1, ipv4_addr(198, 18, 0, 1), ipv4_addr(198, 18, 0, 2));
  ASSERT_EQ(n, 42u);
  EXPECT_EQ(Bytes(buf, buf + n), testing::kArpRequestFrame);
}

TEST(Arp, ReplyAnswersTheRequesterAndRoundTrips) {
  auto req = parse_arp_frame(testing::kArpRequestFrame);
  ASSERT_TRUE(req.ok());
  std::uint8_t buf[42];
  ASSERT_EQ(build_arp_reply(buf, kMac2, *req), 42u);
  auto eth = parse_ethernet(buf);
  ASSERT_TRUE(eth.ok());
  EXPECT_EQ(eth->dst(), kMac1);
  EXPECT_EQ(eth->src(), kMac2);
  auto rep = parse_arp_frame(buf);
  ASSERT_TRUE(rep.ok()) << rep.why();
  EXPECT_EQ(rep->op(), ArpOp::kReply);
  EXPECT_EQ(rep->sender_mac(), kMac2);
  EXPECT_EQ(rep->sender_ip(), ipv4_addr(198, 18, 0, 2));
  EXPECT_EQ(rep->target_mac(), kMac1);
  EXPECT_EQ(rep->target_ip(), ipv4_addr(198, 18, 0, 1));
}

TEST(Arp, BuilderRefusesSmallBuffer) {
  std::uint8_t buf[41];
  EXPECT_EQ(build_arp_request(buf, kMac1, 1, 2), 0u);
}

TEST(Arp, PaddedFrameParses) {
  Bytes f = testing::kArpRequestFrame;
  f.resize(60, 0);
  EXPECT_TRUE(parse_arp_frame(f).ok());
}

TEST(Arp, EveryTruncationIsAnError) {
  const Bytes& f = testing::kArpRequestFrame;
  for (std::size_t n = 0; n < f.size(); ++n) {
    const Bytes cut(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(n));
    auto r = parse_arp_frame(cut);
    EXPECT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.error, n < 14 ? ParseError::kEthernetTruncated : ParseError::kArpTruncated);
  }
}

TEST(Arp, NonEthernetIpv4AndBadOpcodesAreRejected) {
  const std::size_t body = 14;
  for (std::size_t off : {body + 1, body + 3, body + 4, body + 5}) {
    Bytes f = testing::kArpRequestFrame;
    f[off] ^= 0x10;
    EXPECT_EQ(parse_arp_frame(f).error, ParseError::kArpUnsupported) << off;
  }
  for (std::uint8_t op : {0, 3, 9}) {
    Bytes f = testing::kArpRequestFrame;
    f[body + 7] = op;
    EXPECT_EQ(parse_arp_frame(f).error, ParseError::kArpBadOpcode) << int{op};
  }
  EXPECT_EQ(parse_arp_frame(testing::kSynFrame).error, ParseError::kNotArp);
}

}  // namespace
}  // namespace twtcp::wire
