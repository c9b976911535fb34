#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "frames.hpp"
#include "wire/bytes.hpp"
#include "wire/checksum.hpp"

namespace twtcp::wire {
namespace {

using testing::kAckDataFrame;
using testing::kEth;
using testing::kSynFrame;

// RFC 1071 §3 worked example.
TEST(Checksum, Rfc1071ExampleSum) {
  const std::uint8_t data[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(ones_sum(data), 0xddf2);
  EXPECT_EQ(internet_checksum(data), 0x220d);
}

TEST(Checksum, EverySplitPointAgreesWithByteWiseReference) {
  std::mt19937 rng(1);
  for (std::size_t len = 0; len < 70; ++len) {
    std::vector<std::uint8_t> d(len);
    for (auto& b : d) b = static_cast<std::uint8_t>(rng());
    std::uint32_t ref = 0;
    for (std::size_t i = 0; i < len; i += 2) {
      ref += (std::uint32_t{d[i]} << 8) | (i + 1 < len ? d[i + 1] : 0u);
    }
    while (ref >> 16) ref = (ref & 0xffff) + (ref >> 16);
    EXPECT_EQ(ones_sum(d), ref) << "len " << len;
  }
}

TEST(Checksum, EmptyDataSumsToInitial) {
  EXPECT_EQ(ones_sum({}, 0), 0);
  EXPECT_EQ(ones_sum({}, 0x1234), 0x1234);
  EXPECT_EQ(ones_sum({}, 0x12345), 0x2346);  // carry folded back
}

TEST(Checksum, Ipv4HeaderKnownAnswerFromScapy) {
  std::vector<std::uint8_t> f = kSynFrame;
  std::span<std::uint8_t> ip(f.data() + kEth, 20);
  EXPECT_EQ(ones_sum(ip), 0xffff);  // a correct header sums to all-ones
  store_be16(&ip[10], 0);
  EXPECT_EQ(internet_checksum(ip), 0x9b60);
}

TEST(Checksum, TcpPseudoHeaderKnownAnswerFromScapy) {
  for (const auto* frame : {&kSynFrame, &kAckDataFrame}) {
    std::vector<std::uint8_t> f = *frame;
    const std::uint32_t src = load_be32(&f[kEth + 12]);
    const std::uint32_t dst = load_be32(&f[kEth + 16]);
    std::span<std::uint8_t> tcp(f.data() + kEth + 20, f.size() - kEth - 20);
    const std::uint16_t stored = load_be16(&tcp[16]);
    EXPECT_TRUE(tcp_checksum_ok(src, dst, tcp));
    store_be16(&tcp[16], 0);
    EXPECT_EQ(tcp_checksum(src, dst, tcp), stored);
  }
  EXPECT_EQ(load_be16(&kSynFrame[kEth + 36]), 0x81b3);
  EXPECT_EQ(load_be16(&kAckDataFrame[kEth + 36]), 0x619e);
}

TEST(Checksum, CorruptedSegmentFailsVerification) {
  std::vector<std::uint8_t> f = kAckDataFrame;
  const std::uint32_t src = load_be32(&f[kEth + 12]);
  const std::uint32_t dst = load_be32(&f[kEth + 16]);
  std::span<std::uint8_t> tcp(f.data() + kEth + 20, f.size() - kEth - 20);
  tcp.back() ^= 0x01;
  EXPECT_FALSE(tcp_checksum_ok(src, dst, tcp));
  tcp.back() ^= 0x01;
  EXPECT_FALSE(tcp_checksum_ok(src + 1, dst, tcp));  // the pseudo-header is covered
}

TEST(Checksum, PseudoHeaderSumIsWhatOffloadExpects) {
  // Folded, uncomplemented sum of src, dst, proto 6 and length: hand-computed.
  const std::uint32_t src = ipv4_addr(198, 18, 1, 2);  // c612 0102
  const std::uint32_t dst = ipv4_addr(198, 18, 0, 1);  // c612 0001
  // 0xc612 + 0x0102 + 0xc612 + 0x0001 + 6 + 40 = 0x18d55 -> 0x8d55 + 1 = 0x8d56
  EXPECT_EQ(tcp_pseudo_header_sum(src, dst, 40), 0x8d56);
}

TEST(Checksum, IncrementalUpdate16EqualsRecomputationForRandomEdits) {
  std::mt19937 rng(42);
  int all_zero_cases = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::vector<std::uint8_t> d(2 * (1 + rng() % 40));
    for (auto& b : d) b = static_cast<std::uint8_t>(rng());
    const std::uint16_t before = internet_checksum(d);
    const std::size_t w = 2 * (rng() % (d.size() / 2));
    const std::uint16_t old_word = load_be16(&d[w]);
    const auto new_word = static_cast<std::uint16_t>(iter % 7 == 0 ? 0 : rng());
    store_be16(&d[w], new_word);
    const std::uint16_t adjusted = checksum_adjust16(before, old_word, new_word);
    if (ones_sum(d) == 0) {
      // All-zero data: the two one's-complement zeros differ (see checksum.hpp).
      ASSERT_EQ(adjusted, 0);
      ASSERT_EQ(internet_checksum(d), 0xffff);
      ++all_zero_cases;
      continue;
    }
    ASSERT_EQ(adjusted, internet_checksum(d)) << "iter " << iter;
  }
}

TEST(Checksum, IncrementalUpdate32OnRealSegmentKeepsItValid) {
  std::mt19937 rng(7);
  std::vector<std::uint8_t> f = kAckDataFrame;
  std::span<std::uint8_t> ip(f.data() + kEth, 20);
  std::span<std::uint8_t> tcp(f.data() + kEth + 20, f.size() - kEth - 20);
  for (int iter = 0; iter < 5000; ++iter) {
    // Rewrite seq (TCP only) and the source address (IPv4 header and pseudo-header), the
    // way a NAT or a sequence-offsetting middlebox does.
    const std::uint32_t old_seq = load_be32(&tcp[4]);
    const std::uint32_t new_seq = static_cast<std::uint32_t>(rng());
    store_be32(&tcp[4], new_seq);
    store_be16(&tcp[16], checksum_adjust32(load_be16(&tcp[16]), old_seq, new_seq));

    const std::uint32_t old_src = load_be32(&ip[12]);
    const std::uint32_t new_src = static_cast<std::uint32_t>(rng());
    store_be32(&ip[12], new_src);
    store_be16(&ip[10], checksum_adjust32(load_be16(&ip[10]), old_src, new_src));
    store_be16(&tcp[16], checksum_adjust32(load_be16(&tcp[16]), old_src, new_src));

    ASSERT_EQ(ones_sum(ip), 0xffff) << "iter " << iter;
    ASSERT_TRUE(tcp_checksum_ok(new_src, load_be32(&ip[16]), tcp)) << "iter " << iter;
    std::vector<std::uint8_t> g = f;
    testing::fix_checksums(g);
    ASSERT_EQ(g, f) << "incremental result differs from full recomputation, iter " << iter;
  }
}

}  // namespace
}  // namespace twtcp::wire
