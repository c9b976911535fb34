#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "frames.hpp"
#include "wire/checksum.hpp"
#include "wire/ipv4.hpp"

namespace twtcp::wire {
namespace {

using testing::kEth;
using Bytes = std::vector<std::uint8_t>;

Bytes ip_of(const Bytes& frame) {
  return Bytes(frame.begin() + kEth, frame.end());
}

void fix_ip_checksum(Bytes& ip) {
  const std::size_t hlen = std::size_t{ip[0] & 0x0fu} * 4;
  store_be16(&ip[10], 0);
  store_be16(&ip[10], internet_checksum({ip.data(), std::min(hlen, ip.size())}));
}

TEST(Ipv4, ParsesKnownPacket) {
  const Bytes ip = ip_of(testing::kSynFrame);
  auto r = parse_ipv4(ip);
  ASSERT_TRUE(r.ok()) << r.why();
  EXPECT_EQ(r->src(), ipv4_addr(198, 18, 1, 2));
  EXPECT_EQ(r->dst(), ipv4_addr(198, 18, 0, 1));
  EXPECT_EQ(r->id(), 0x1234);
  EXPECT_EQ(r->ttl(), 64);
  EXPECT_TRUE(r->dont_fragment());
  EXPECT_EQ(r->protocol(), kIpProtoTcp);
  EXPECT_EQ(r->header_length(), 20u);
  EXPECT_EQ(r->payload().size(), 40u);
  EXPECT_TRUE(r->options().empty());
}

TEST(Ipv4, OptionsAreSkipped) {
  const Bytes ip = ip_of(testing::kIpOptionsFrame);
  auto r = parse_ipv4(ip);
  ASSERT_TRUE(r.ok()) << r.why();
  EXPECT_EQ(r->header_length(), 24u);
  EXPECT_EQ(r->options().size(), 4u);
  EXPECT_EQ(r->payload().size(), 20u);
  EXPECT_EQ(load_be16(r->payload().data()), 1);  // TCP source port follows the options
  EXPECT_EQ(r->tos(), 0x10);
}

TEST(Ipv4, BadHeaderChecksumIsRejectedUnlessOffloaded) {
  Bytes ip = ip_of(testing::kSynFrame);
  ip[8] = 1;  // TTL changed, checksum not updated
  EXPECT_EQ(parse_ipv4(ip).error, ParseError::kIpv4BadChecksum);
  EXPECT_TRUE(parse_ipv4(ip, /*verify_checksum=*/false).ok());
}

TEST(Ipv4, MoreFragmentsIsRejected) {
  Bytes ip = ip_of(testing::kSynFrame);
  ip[6] = 0x20;  // MF, offset 0
  fix_ip_checksum(ip);
  EXPECT_EQ(parse_ipv4(ip).error, ParseError::kIpv4Fragment);
}

TEST(Ipv4, NonZeroFragmentOffsetIsRejected) {
  for (std::uint16_t frag : {0x0001, 0x4001, 0x1fff, 0x0100}) {
    Bytes ip = ip_of(testing::kSynFrame);
    store_be16(&ip[6], frag);
    fix_ip_checksum(ip);
    EXPECT_EQ(parse_ipv4(ip).error, ParseError::kIpv4Fragment) << std::hex << frag;
  }
}

TEST(Ipv4, DontFragmentAloneIsAccepted) {
  Bytes ip = ip_of(testing::kSynFrame);
  store_be16(&ip[6], 0x0000);
  fix_ip_checksum(ip);
  auto r = parse_ipv4(ip);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->dont_fragment());
}

TEST(Ipv4, WrongVersionIsRejected) {
  Bytes ip = ip_of(testing::kSynFrame);
  ip[0] = 0x65;
  EXPECT_EQ(parse_ipv4(ip).error, ParseError::kIpv4BadVersion);
}

TEST(Ipv4, IhlBelowFiveIsRejected) {
  for (std::uint8_t ihl = 0; ihl < 5; ++ihl) {
    Bytes ip = ip_of(testing::kSynFrame);
    ip[0] = static_cast<std::uint8_t>(0x40 | ihl);
    EXPECT_EQ(parse_ipv4(ip).error, ParseError::kIpv4BadIhl) << int{ihl};
  }
}

TEST(Ipv4, IhlPastBufferIsRejected) {
  Bytes ip = ip_of(testing::kSynFrame);
  ip.resize(40);
  ip[0] = 0x4f;  // 60-byte header in a 40-byte buffer
  EXPECT_EQ(parse_ipv4(ip).error, ParseError::kIpv4HeaderPastBuffer);
}

TEST(Ipv4, TotalLengthGreaterThanBufferIsRejected) {
  Bytes ip = ip_of(testing::kSynFrame);
  store_be16(&ip[2], static_cast<std::uint16_t>(ip.size() + 1));
  fix_ip_checksum(ip);
  EXPECT_EQ(parse_ipv4(ip).error, ParseError::kIpv4TotalLengthPastBuffer);
}

TEST(Ipv4, TotalLengthSmallerThanHeaderIsRejected) {
  Bytes ip = ip_of(testing::kIpOptionsFrame);
  store_be16(&ip[2], 20);  // header is 24
  fix_ip_checksum(ip);
  EXPECT_EQ(parse_ipv4(ip).error, ParseError::kIpv4BadTotalLength);
}

TEST(Ipv4, LinkPaddingBeyondTotalLengthIsTrimmed) {
  Bytes ip = ip_of(testing::kSynFrame);
  ip.insert(ip.end(), 6, 0xee);
  auto r = parse_ipv4(ip);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->bytes().size(), 60u);
  EXPECT_EQ(r->payload().size(), 40u);
}

TEST(Ipv4, EveryTruncationIsAnErrorNeverAnOverread) {
  const Bytes ip = ip_of(testing::kSynFrame);
  for (std::size_t n = 0; n < ip.size(); ++n) {
    const Bytes cut(ip.begin(), ip.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_FALSE(parse_ipv4(cut).ok()) << n;
  }
}

TEST(Ipv4, WriterProducesScapyIdenticalHeader) {
  const Bytes expect = ip_of(testing::kSynFrame);
  Ipv4Fields f;
  f.src = ipv4_addr(198, 18, 1, 2);
  f.dst = ipv4_addr(198, 18, 0, 1);
  f.id = 0x1234;
  std::uint8_t buf[20];
  ASSERT_EQ(write_ipv4(buf, f, 60), 20u);
  EXPECT_EQ(Bytes(buf, buf + 20), Bytes(expect.begin(), expect.begin() + 20));
  EXPECT_EQ(write_ipv4(std::span<std::uint8_t>(buf, 19), f, 60), 0u);
  EXPECT_EQ(write_ipv4(buf, f, 19), 0u);
}

}  // namespace
}  // namespace twtcp::wire
