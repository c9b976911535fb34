// tests/wire/test_tcp_sack.cpp: RFC 2018 SACK blocks (option kind 5) parsed and written,
// against frames built by scapy 2.5 (generator in each comment), plus malformed lengths,
// truncations and the 40-byte option budget.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "wire/segment.hpp"
#include "wire/tcp.hpp"

namespace twtcp::wire {
namespace {

using Bytes = std::vector<std::uint8_t>;

// Ether(src=02:..:01, dst=02:..:02)/IP(src=198.18.0.1, dst=198.18.1.2, id=0x0102, ttl=64,
// flags=DF)/TCP(sport=80, dport=40000, seq=1000, ack=5000, flags=A, window=502,
// options=[NOP, NOP, Timestamp(7, 9), NOP, NOP, SAck(6000, 7000, 8000, 9000, 10000, 11000)])
// Linux's layout for an ACK with timestamps and three blocks; 40 option bytes.
const Bytes kSackTsFrame = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x45, 0x00,
    0x00, 0x50, 0x01, 0x02, 0x40, 0x00, 0x40, 0x06, 0xac, 0x7e, 0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12,
    0x01, 0x02, 0x00, 0x50, 0x9c, 0x40, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x13, 0x88, 0xf0, 0x10,
    0x01, 0xf6, 0xf6, 0x1e, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00,
    0x00, 0x09, 0x01, 0x01, 0x05, 0x1a, 0x00, 0x00, 0x17, 0x70, 0x00, 0x00, 0x1b, 0x58, 0x00, 0x00,
    0x1f, 0x40, 0x00, 0x00, 0x23, 0x28, 0x00, 0x00, 0x27, 0x10, 0x00, 0x00, 0x2a, 0xf8};

// The same without timestamps: options=[NOP, NOP, SAck(0xfffffff0, 0x10, 0x20, 0x30, 0x40,
// 0x50, 0x60, 0x70)], four blocks, the first one wrapping through 2^32.
const Bytes kSack4Frame = {
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x45,
    0x00, 0x00, 0x4c, 0x01, 0x02, 0x40, 0x00, 0x40, 0x06, 0xac, 0x82, 0xc6, 0x12, 0x00, 0x01,
    0xc6, 0x12, 0x01, 0x02, 0x00, 0x50, 0x9c, 0x40, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x13,
    0x88, 0xe0, 0x10, 0x01, 0xf6, 0xd4, 0xbd, 0x00, 0x00, 0x01, 0x01, 0x05, 0x22, 0xff, 0xff,
    0xff, 0xf0, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x30, 0x00,
    0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x50, 0x00, 0x00, 0x00, 0x60, 0x00, 0x00, 0x00, 0x70};

SegmentSpec spec_like_scapy() {
  SegmentSpec s;
  s.eth_src = {2, 0, 0, 0, 0, 1};
  s.eth_dst = {2, 0, 0, 0, 0, 2};
  s.src_addr = 0xC6120001;
  s.dst_addr = 0xC6120102;
  s.ip_id = 0x0102;
  s.tcp.src_port = 80;
  s.tcp.dst_port = 40000;
  s.tcp.seq = 1000;
  s.tcp.ack = 5000;
  s.tcp.flags = tcp_flags::kAck;
  s.tcp.window = 502;
  return s;
}

void set_blocks(TcpOptions& o, std::initializer_list<TcpSackBlock> blocks) {
  o.sack_count = 0;
  for (const TcpSackBlock& b : blocks) o.sack[o.sack_count++] = b;
}

TEST(TcpSack, ScapyFrameWithTimestampsParsesThreeBlocks) {
  auto r = parse_segment(kSackTsFrame);
  ASSERT_TRUE(r.ok()) << r.why();
  EXPECT_EQ(r->options.ts, (TcpTimestamps{7, 9}));
  ASSERT_EQ(r->options.sack_count, 3u);
  EXPECT_EQ(r->options.sack[0], (TcpSackBlock{6000, 7000}));
  EXPECT_EQ(r->options.sack[1], (TcpSackBlock{8000, 9000}));
  EXPECT_EQ(r->options.sack[2], (TcpSackBlock{10000, 11000}));
}

TEST(TcpSack, ScapyFrameWithoutTimestampsParsesFourBlocks) {
  auto r = parse_segment(kSack4Frame);
  ASSERT_TRUE(r.ok()) << r.why();
  EXPECT_FALSE(r->options.ts);
  ASSERT_EQ(r->options.sack_count, 4u);
  EXPECT_EQ(r->options.sack[0], (TcpSackBlock{0xfffffff0u, 0x10}));
  EXPECT_EQ(r->options.sack[3], (TcpSackBlock{0x60, 0x70}));
}

TEST(TcpSack, BuildMatchesScapyByteForByte) {
  std::uint8_t buf[128];
  SegmentSpec s = spec_like_scapy();
  s.tcp.options.ts = TcpTimestamps{7, 9};
  set_blocks(s.tcp.options, {{6000, 7000}, {8000, 9000}, {10000, 11000}});
  std::size_t n = build_segment(buf, s);
  EXPECT_EQ(Bytes(buf, buf + n), kSackTsFrame);

  s = spec_like_scapy();
  set_blocks(s.tcp.options, {{0xfffffff0u, 0x10}, {0x20, 0x30}, {0x40, 0x50}, {0x60, 0x70}});
  n = build_segment(buf, s);
  EXPECT_EQ(Bytes(buf, buf + n), kSack4Frame);
}

TEST(TcpSack, ScapyBareOptionsWithEolPaddingParse) {
  // raw(TCP(options=[('SAck', (1, 2))]))[20:] and with (1, 2, 3, 4): scapy pads with EOL.
  auto one = parse_tcp_options(Bytes{5, 10, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0});
  ASSERT_TRUE(one.ok()) << one.why();
  ASSERT_EQ(one->sack_count, 1u);
  EXPECT_EQ(one->sack[0], (TcpSackBlock{1, 2}));
  auto two = parse_tcp_options(Bytes{5, 18, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0});
  ASSERT_TRUE(two.ok()) << two.why();
  ASSERT_EQ(two->sack_count, 2u);
  EXPECT_EQ(two->sack[1], (TcpSackBlock{3, 4}));
}

TEST(TcpSack, LengthsOtherThanTwoPlusEightNAreBadLengths) {
  // Zero blocks, and every length that is not 2 + 8n, in a list long enough to hold it.
  for (std::uint8_t len = 2; len <= 38; ++len) {
    if (len >= 10 && (len - 2) % 8 == 0) continue;
    Bytes b(40, 0);
    b[0] = tcp_option::kSack;
    b[1] = len;
    EXPECT_EQ(parse_tcp_options(b).error, ParseError::kTcpOptionBadLength) << int{len};
  }
  EXPECT_EQ(parse_tcp_options(Bytes{5, 1, 0, 0}).error, ParseError::kTcpOptionLengthTooSmall);
  EXPECT_EQ(parse_tcp_options(Bytes{5, 0, 0, 0}).error, ParseError::kTcpOptionLengthTooSmall);
}

TEST(TcpSack, BlocksRunningPastTheHeaderAreRejected) {
  // One block announced, four bytes of it present.
  EXPECT_EQ(parse_tcp_options(Bytes{1, 1, 5, 10, 0, 0, 0, 1}).error,
            ParseError::kTcpOptionPastHeader);
  // Five blocks (42) can never fit in 40 option bytes.
  Bytes b(40, 0);
  b[0] = tcp_option::kSack;
  b[1] = 42;
  EXPECT_EQ(parse_tcp_options(b).error, ParseError::kTcpOptionPastHeader);
  EXPECT_EQ(parse_tcp_options(Bytes{1, 1, 1, 5}).error, ParseError::kTcpOptionPastHeader);
}

TEST(TcpSack, SecondSackOptionIsADuplicate) {
  const Bytes b = {5, 10, 0, 0, 0, 1, 0, 0, 0, 2, 5, 10, 0, 0, 0, 3, 0, 0, 0, 4};
  EXPECT_EQ(parse_tcp_options(b).error, ParseError::kTcpOptionDuplicate);
}

// Each prefix in its own exact-size heap buffer so ASan flags any over-read; only a prefix
// that ends on an option boundary (and keeps the data offset consistent) may parse.
TEST(TcpSack, EveryTruncationIsAnErrorWithoutOverread) {
  for (const Bytes* f : {&kSackTsFrame, &kSack4Frame}) {
    for (std::size_t n = 0; n < f->size(); ++n) {
      const Bytes cut(f->begin(), f->begin() + static_cast<std::ptrdiff_t>(n));
      EXPECT_FALSE(parse_segment(cut, kNoChecksums).ok()) << n;
    }
    const Bytes opts(f->begin() + 54, f->end());
    for (std::size_t n = 0; n <= opts.size(); ++n) {
      const Bytes cut(opts.begin(), opts.begin() + static_cast<std::ptrdiff_t>(n));
      const auto r = parse_tcp_options(cut);
      if (r.ok()) {
        EXPECT_EQ(r->sack_count, n == opts.size() ? (f == &kSack4Frame ? 4u : 3u) : 0u);
      }
    }
  }
}

TEST(TcpSack, WriterFitsAsManyBlocksAsTheOptionSpaceAllows) {
  TcpOptions o;
  set_blocks(o, {{1, 2}, {3, 4}, {5, 6}, {7, 8}});
  EXPECT_EQ(tcp_sack_blocks_written(o), 4u);  // 4 + 32 = 36
  EXPECT_EQ(tcp_options_length(o), 36u);
  o.ts = TcpTimestamps{1, 1};
  EXPECT_EQ(tcp_sack_blocks_written(o), 3u);  // 12 + 4 + 24 = 40
  EXPECT_EQ(tcp_options_length(o), 40u);
  o.mss = 1460;
  o.wscale = 7;
  o.sack_permitted = true;
  EXPECT_EQ(tcp_sack_blocks_written(o), 2u);  // 20 + 4 + 16 = 40
  o.ts.reset();
  EXPECT_EQ(tcp_sack_blocks_written(o), 3u);  // 12 + 4 + 24 = 40
  // The ones sent are the first (most recent) ones.
  std::uint8_t buf[kTcpMaxOptionsLen];
  const std::size_t n = write_tcp_options(buf, o);
  ASSERT_EQ(n, 40u);
  auto r = parse_tcp_options(std::span<const std::uint8_t>(buf, n));
  ASSERT_TRUE(r.ok()) << r.why();
  ASSERT_EQ(r->sack_count, 3u);
  EXPECT_EQ(r->sack[2], (TcpSackBlock{5, 6}));
}

TEST(TcpSack, EveryParsedListIsWrittenBackWhole) {
  // Window scale + timestamps + 3 blocks: 39 bytes on the wire, 44 in Linux's NOP-padded
  // layout. No Linux peer sends this (WS is SYN-only), but a parsed list must round-trip.
  const Bytes b = {8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 3, 3, 7, 5, 26, 0, 0, 0, 1, 0,
                   0, 0,  2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5,  0, 0, 0, 6, 0};
  auto r = parse_tcp_options(b);
  ASSERT_TRUE(r.ok()) << r.why();
  ASSERT_EQ(r->sack_count, 3u);
  EXPECT_EQ(tcp_sack_blocks_written(*r), 3u);
  std::uint8_t buf[kTcpMaxOptionsLen];
  const std::size_t n = write_tcp_options(buf, *r);
  ASSERT_EQ(n, 40u);
  EXPECT_EQ(Bytes(buf, buf + n), b);  // the same minimal layout, EOL-padded
  auto again = parse_tcp_options(std::span<const std::uint8_t>(buf, n));
  ASSERT_TRUE(again.ok()) << again.why();
  EXPECT_EQ(*again, *r);
}

TEST(TcpSack, WriteThenParseRoundTripsEveryCombination) {
  for (int mask = 0; mask < 16; ++mask) {
    for (std::uint8_t blocks = 0; blocks <= TcpOptions::kMaxSackBlocks; ++blocks) {
      TcpOptions o;
      if (mask & 1) o.mss = 1460;
      if (mask & 2) o.wscale = 9;
      if (mask & 4) o.sack_permitted = true;
      if (mask & 8) o.ts = TcpTimestamps{0x80000001u, 0xfffffffeu};
      for (std::uint8_t b = 0; b < blocks; ++b) {
        o.sack[b] = TcpSackBlock{0xfffff000u + 100u * b, 0xfffff000u + 100u * b + 50u};
      }
      o.sack_count = blocks;
      std::uint8_t buf[kTcpMaxOptionsLen];
      const std::size_t n = write_tcp_options(buf, o);
      EXPECT_EQ(n, tcp_options_length(o));
      EXPECT_EQ(n % 4, 0u);
      EXPECT_LE(n, kTcpMaxOptionsLen);
      auto r = parse_tcp_options(std::span<const std::uint8_t>(buf, n));
      ASSERT_TRUE(r.ok()) << "mask " << mask << " blocks " << int{blocks} << ": " << r.why();
      TcpOptions expect = o;
      expect.sack_count = static_cast<std::uint8_t>(tcp_sack_blocks_written(o));
      EXPECT_EQ(*r, expect) << "mask " << mask << " blocks " << int{blocks};
      EXPECT_GE(r->sack_count, std::min<std::size_t>(blocks, 2));  // 2 fit next to anything
      // Linux's NOP-padded layout, or the packed one when that holds more.
      const std::size_t linux_fixed = ((mask & 1) ? 4 : 0) +
                                      ((mask & 8)   ? 12
                                       : (mask & 4) ? 4
                                                    : 0) +
                                      ((mask & 2) ? 4 : 0);
      const std::size_t packed_fixed = ((mask & 1) ? 4 : 0) + ((mask & 4) ? 2 : 0) +
                                       ((mask & 8) ? 10 : 0) + ((mask & 2) ? 3 : 0);
      const std::size_t fit = std::max((40 - linux_fixed - 4) / 8, (40 - packed_fixed - 2) / 8);
      EXPECT_EQ(r->sack_count, std::min<std::size_t>({blocks, fit, 4}));
    }
  }
}

}  // namespace
}  // namespace twtcp::wire

namespace twtcp::wire {
namespace {
// A TCP header holds at most 40 bytes of options: a longer area is refused, whatever it holds
// (fuzz_wire found one with four SACK blocks that could not be written back).
TEST(TcpOptionsArea, LongerThan40BytesIsRefused) {
  std::vector<std::uint8_t> area(41, tcp_option::kNop);
  const auto r = parse_tcp_options(area);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error, ParseError::kTcpOptionPastHeader);
  area.resize(40);
  EXPECT_TRUE(parse_tcp_options(area).ok());
}
}  // namespace
}  // namespace twtcp::wire
