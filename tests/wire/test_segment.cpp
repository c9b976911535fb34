#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "frames.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/segment.hpp"

namespace twtcp::wire {
namespace {

using testing::fix_checksums;
using testing::kEth;
using Bytes = std::vector<std::uint8_t>;
constexpr MacAddr kMac1{0x02, 0, 0, 0, 0, 0x01};
constexpr MacAddr kMac2{0x02, 0, 0, 0, 0, 0x02};
constexpr std::size_t kTcpOff = kEth + 20;  // TCP header offset in the option-less-IP frames

SegmentSpec syn_spec() {
  SegmentSpec s;
  s.eth_src = kMac1;
  s.eth_dst = kMac2;
  s.src_addr = ipv4_addr(198, 18, 1, 2);
  s.dst_addr = ipv4_addr(198, 18, 0, 1);
  s.ip_id = 0x1234;
  s.tcp.src_port = 40000;
  s.tcp.dst_port = 80;
  s.tcp.seq = 0xdeadbeef;
  s.tcp.flags = tcp_flags::kSyn;
  s.tcp.window = 64240;
  s.tcp.options.mss = 1460;
  s.tcp.options.sack_permitted = true;
  s.tcp.options.ts = TcpTimestamps{0x01020304, 0};
  s.tcp.options.wscale = 7;
  return s;
}

TEST(ParseSegment, KnownSynYieldsEveryField) {
  auto r = parse_segment(testing::kSynFrame);
  ASSERT_TRUE(r.ok()) << r.why();
  const SegmentView& s = *r;
  EXPECT_EQ(s.eth_src, kMac1);
  EXPECT_EQ(s.eth_dst, kMac2);
  EXPECT_EQ(s.src_addr, ipv4_addr(198, 18, 1, 2));
  EXPECT_EQ(s.dst_addr, ipv4_addr(198, 18, 0, 1));
  EXPECT_EQ(s.src_port, 40000);
  EXPECT_EQ(s.dst_port, 80);
  EXPECT_EQ(s.seq, 0xdeadbeefu);
  EXPECT_EQ(s.ack, 0u);
  EXPECT_EQ(s.flags, tcp_flags::kSyn);
  EXPECT_TRUE(s.has(tcp_flags::kSyn));
  EXPECT_FALSE(s.has(tcp_flags::kSyn | tcp_flags::kAck));
  EXPECT_EQ(s.window, 64240);
  EXPECT_EQ(s.ttl, 64);
  EXPECT_EQ(s.ip_id, 0x1234);
  EXPECT_EQ(s.options, syn_spec().tcp.options);
  EXPECT_TRUE(s.payload.empty());
  EXPECT_EQ(s.seg_len(), 1u);
  EXPECT_EQ(s.end_seq(), 0xdeadbef0u);
}

TEST(ParseSegment, KnownDataSegmentPayloadPointsIntoFrame) {
  const Bytes& f = testing::kAckDataFrame;
  auto r = parse_segment(f);
  ASSERT_TRUE(r.ok()) << r.why();
  EXPECT_EQ(r->flags, tcp_flags::kPsh | tcp_flags::kAck);
  EXPECT_EQ(r->ack, 0xdeadbef0u);
  EXPECT_EQ(r->options.ts, (TcpTimestamps{5, 0x01020304}));
  ASSERT_EQ(r->payload.size(), 5u);
  EXPECT_EQ(r->payload.data(), f.data() + f.size() - 5);  // a view, not a copy
  EXPECT_EQ(std::memcmp(r->payload.data(), "hello", 5), 0);
  EXPECT_EQ(r->seg_len(), 5u);
}

TEST(ParseSegment, IpOptionsAreSkipped) {
  auto r = parse_segment(testing::kIpOptionsFrame);
  ASSERT_TRUE(r.ok()) << r.why();
  EXPECT_EQ(r->src_port, 1);
  EXPECT_EQ(r->dst_port, 2);
  EXPECT_EQ(r->seq, 3u);
  EXPECT_EQ(r->ack, 4u);
  EXPECT_EQ(r->window, 5);
  EXPECT_EQ(r->tos, 0x10);
  EXPECT_EQ(r->ttl, 63);
}

TEST(ParseSegment, EthernetPaddingIsNotPayload) {
  Bytes f = testing::kIpOptionsFrame;  // 58 bytes: below the 60-byte minimum
  f.resize(60, 0xaa);
  auto r = parse_segment(f);
  ASSERT_TRUE(r.ok()) << r.why();
  EXPECT_TRUE(r->payload.empty());
}

// Every prefix of every valid frame, each in an exact-size heap buffer: ASan proves no byte
// past the prefix is touched, and no prefix may be mistaken for a segment.
TEST(ParseSegment, EveryTruncationOfValidFramesIsAnErrorWithoutOverread) {
  for (const Bytes* f : {&testing::kSynFrame, &testing::kAckDataFrame, &testing::kIpOptionsFrame}) {
    for (std::size_t n = 0; n < f->size(); ++n) {
      const Bytes cut(f->begin(), f->begin() + static_cast<std::ptrdiff_t>(n));
      for (Checksums c : {kAllChecksums, kNoChecksums}) {
        auto r = parse_segment(cut, c);
        ASSERT_FALSE(r.ok()) << "length " << n;
        EXPECT_NE(r.why(), nullptr);
      }
    }
  }
}

TEST(ParseSegment, NonIpv4AndNonTcpAreReported) {
  EXPECT_EQ(parse_segment(testing::kArpRequestFrame).error, ParseError::kNotIpv4);
  Bytes f = testing::kSynFrame;
  f[kEth + 9] = 17;  // UDP
  fix_checksums(f);
  EXPECT_EQ(parse_segment(f).error, ParseError::kNotTcp);
}

TEST(ParseSegment, TcpDataOffsetBelowFiveIsRejected) {
  for (std::uint8_t doff = 0; doff < 5; ++doff) {
    Bytes f = testing::kSynFrame;
    f[kTcpOff + 12] = static_cast<std::uint8_t>(doff << 4);
    fix_checksums(f);
    EXPECT_EQ(parse_segment(f).error, ParseError::kTcpBadDataOffset) << int{doff};
  }
}

TEST(ParseSegment, TcpDataOffsetPastSegmentIsRejected) {
  Bytes f = testing::kSynFrame;  // 40-byte TCP segment
  f[kTcpOff + 12] = 0xb0;        // 44 bytes
  fix_checksums(f);
  EXPECT_EQ(parse_segment(f).error, ParseError::kTcpDataOffsetPastSegment);
  // Trailing link padding must not count as TCP header: the segment ends at total length.
  f.resize(f.size() + 8, 0);
  EXPECT_EQ(parse_segment(f).error, ParseError::kTcpDataOffsetPastSegment);
}

TEST(ParseSegment, BadTcpChecksumIsRejectedUnlessOffloaded) {
  Bytes f = testing::kAckDataFrame;
  f.back() ^= 0x20;  // payload bit flip
  EXPECT_EQ(parse_segment(f).error, ParseError::kTcpBadChecksum);
  EXPECT_TRUE(parse_segment(f, Checksums{true, false}).ok());
  f[kEth + 8] = 1;  // TTL, IPv4 checksum now wrong too
  EXPECT_EQ(parse_segment(f, Checksums{true, false}).error, ParseError::kIpv4BadChecksum);
  EXPECT_TRUE(parse_segment(f, kNoChecksums).ok());
}

TEST(ParseSegment, MalformedOptionsAreReportedWithReason) {
  Bytes f = testing::kSynFrame;
  // Turn the TS option into a duplicate of... itself: replace SACKOK (4,2) + 8,10 with a
  // zero-length option.
  f[kTcpOff + 24] = 99;
  f[kTcpOff + 25] = 0;
  fix_checksums(f);
  auto r = parse_segment(f);
  EXPECT_EQ(r.error, ParseError::kTcpOptionLengthTooSmall);
  EXPECT_STREQ(r.why(), "tcp option: length 0 or 1");
}

TEST(ParseSegment, IpOnlyVariantParsesWithoutLinkLayer) {
  const Bytes& f = testing::kSynFrame;
  auto r = parse_ip_segment(std::span<const std::uint8_t>(f).subspan(kEth));
  ASSERT_TRUE(r.ok()) << r.why();
  EXPECT_EQ(r->eth_src, MacAddr{});
  EXPECT_EQ(r->seq, 0xdeadbeefu);
}

TEST(ParseTcp, HeaderChecksStandAlone) {
  std::uint8_t seg[24] = {};
  seg[12] = 0x50;
  EXPECT_TRUE(parse_tcp(std::span<const std::uint8_t>(seg, 20)).ok());
  EXPECT_EQ(parse_tcp(std::span<const std::uint8_t>(seg, 19)).error, ParseError::kTcpTruncated);
  seg[12] = 0x40;
  EXPECT_EQ(parse_tcp(seg).error, ParseError::kTcpBadDataOffset);
  seg[12] = 0x60;
  auto r = parse_tcp(seg);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->options().size(), 4u);
  EXPECT_TRUE(r->payload().empty());
  seg[12] = 0x70;
  EXPECT_EQ(parse_tcp(seg).error, ParseError::kTcpDataOffsetPastSegment);
}

TEST(BuildSegment, SynMatchesScapyBytes) {
  std::uint8_t buf[128];
  const std::size_t n = build_segment(buf, syn_spec());
  ASSERT_EQ(n, testing::kSynFrame.size());
  EXPECT_EQ(Bytes(buf, buf + n), testing::kSynFrame);
}

TEST(BuildSegment, DataSegmentMatchesScapyBytes) {
  SegmentSpec s;
  s.eth_src = kMac2;
  s.eth_dst = kMac1;
  s.src_addr = ipv4_addr(198, 18, 0, 1);
  s.dst_addr = ipv4_addr(198, 18, 1, 2);
  s.tcp.src_port = 80;
  s.tcp.dst_port = 40000;
  s.tcp.seq = 1000;
  s.tcp.ack = 0xdeadbef0;
  s.tcp.flags = tcp_flags::kPsh | tcp_flags::kAck;
  s.tcp.window = 502;
  s.tcp.options.ts = TcpTimestamps{5, 0x01020304};
  const char* hello = "hello";
  std::uint8_t buf[128];
  const std::size_t n = build_segment(buf, s, {reinterpret_cast<const std::uint8_t*>(hello), 5});
  ASSERT_EQ(n, testing::kAckDataFrame.size());
  EXPECT_EQ(Bytes(buf, buf + n), testing::kAckDataFrame);
}

TEST(BuildSegment, PayloadAlreadyInPlaceIsNotCopied) {
  SegmentSpec s = syn_spec();
  std::uint8_t buf[256];
  const std::size_t h = segment_header_length(s);
  std::memcpy(buf + h, "in place", 8);
  const std::size_t n = build_segment(buf, s, {buf + h, 8});
  ASSERT_EQ(n, h + 8);
  auto r = parse_segment(std::span<const std::uint8_t>(buf, n));
  ASSERT_TRUE(r.ok()) << r.why();
  EXPECT_EQ(std::memcmp(r->payload.data(), "in place", 8), 0);
}

TEST(BuildSegment, RefusesBuffersThatAreTooSmall) {
  const SegmentSpec s = syn_spec();
  const std::uint8_t payload[10] = {};
  const std::size_t need = segment_header_length(s) + sizeof payload;
  std::vector<std::uint8_t> buf(need);
  for (std::size_t n = 0; n < need; ++n) {
    EXPECT_EQ(build_segment(std::span<std::uint8_t>(buf.data(), n), s, payload), 0u) << n;
  }
  EXPECT_EQ(build_segment(buf, s, payload), need);
}

TEST(BuildSegment, RefusesPacketsLargerThanIpv4Allows) {
  const SegmentSpec s;
  std::vector<std::uint8_t> buf(70000);
  std::vector<std::uint8_t> payload(65535 - 40 + 1);
  EXPECT_EQ(build_ip_segment(buf, s, payload), 0u);
  payload.pop_back();
  EXPECT_EQ(build_ip_segment(buf, s, payload), 65535u);
}

TEST(BuildSegment, OffloadLeavesWhatTheNicExpects) {
  const SegmentSpec s = syn_spec();
  std::uint8_t buf[128];
  const std::size_t n = build_segment(buf, s, {}, kNoChecksums);
  ASSERT_GT(n, 0u);
  EXPECT_EQ(load_be16(buf + kEth + 10), 0);
  EXPECT_EQ(load_be16(buf + kTcpOff + 16),
            tcp_pseudo_header_sum(s.src_addr, s.dst_addr, static_cast<std::uint16_t>(n - kTcpOff)));
  EXPECT_TRUE(parse_segment(std::span<const std::uint8_t>(buf, n), kNoChecksums).ok());
}

TEST(BuildSegment, RandomSpecsRoundTripThroughParse) {
  std::mt19937 rng(2024);
  std::vector<std::uint8_t> buf(2048);
  std::vector<std::uint8_t> payload(1500);
  for (int iter = 0; iter < 3000; ++iter) {
    SegmentSpec s;
    s.eth_src = MacAddr{2, 0, 0, 0, 0, static_cast<std::uint8_t>(rng())};
    s.eth_dst = MacAddr{2, 0, 0, 0, 1, static_cast<std::uint8_t>(rng())};
    s.src_addr = static_cast<std::uint32_t>(rng());
    s.dst_addr = static_cast<std::uint32_t>(rng());
    s.ttl = static_cast<std::uint8_t>(rng());
    s.tos = static_cast<std::uint8_t>(rng());
    s.ip_id = static_cast<std::uint16_t>(rng());
    s.tcp.src_port = static_cast<std::uint16_t>(rng());
    s.tcp.dst_port = static_cast<std::uint16_t>(rng());
    s.tcp.seq = static_cast<std::uint32_t>(rng());
    s.tcp.ack = static_cast<std::uint32_t>(rng());
    s.tcp.flags = static_cast<std::uint8_t>(rng());
    s.tcp.window = static_cast<std::uint16_t>(rng());
    s.tcp.urgent = static_cast<std::uint16_t>(rng());
    if (rng() & 1) s.tcp.options.mss = static_cast<std::uint16_t>(rng());
    if (rng() & 1) s.tcp.options.wscale = static_cast<std::uint8_t>(rng());
    s.tcp.options.sack_permitted = (rng() & 1) != 0;
    if (rng() & 1) {
      s.tcp.options.ts =
          TcpTimestamps{static_cast<std::uint32_t>(rng()), static_cast<std::uint32_t>(rng())};
    }
    const std::size_t plen = rng() % payload.size();
    for (std::size_t i = 0; i < plen; ++i) payload[i] = static_cast<std::uint8_t>(rng());

    const std::size_t n = build_segment(buf, s, {payload.data(), plen});
    ASSERT_EQ(n, segment_header_length(s) + plen);
    auto r = parse_segment(std::span<const std::uint8_t>(buf.data(), n));
    ASSERT_TRUE(r.ok()) << "iter " << iter << ": " << r.why();
    EXPECT_EQ(r->eth_src, s.eth_src);
    EXPECT_EQ(r->eth_dst, s.eth_dst);
    EXPECT_EQ(r->src_addr, s.src_addr);
    EXPECT_EQ(r->dst_addr, s.dst_addr);
    EXPECT_EQ(r->ttl, s.ttl);
    EXPECT_EQ(r->tos, s.tos);
    EXPECT_EQ(r->ip_id, s.ip_id);
    EXPECT_EQ(r->src_port, s.tcp.src_port);
    EXPECT_EQ(r->dst_port, s.tcp.dst_port);
    EXPECT_EQ(r->seq, s.tcp.seq);
    EXPECT_EQ(r->ack, s.tcp.ack);
    EXPECT_EQ(r->flags, s.tcp.flags);
    EXPECT_EQ(r->window, s.tcp.window);
    EXPECT_EQ(r->urgent, s.tcp.urgent);
    EXPECT_EQ(r->options, s.tcp.options);
    ASSERT_EQ(r->payload.size(), plen);
    EXPECT_EQ(std::memcmp(r->payload.data(), payload.data(), plen), 0);
  }
}

}  // namespace
}  // namespace twtcp::wire
