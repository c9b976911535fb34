#include <gtest/gtest.h>

#include <array>
#include <cstdint>

#include "ports/siphash.hpp"

namespace twtcp::ports {
namespace {

// Key 00 01 .. 0f, as in the SipHash paper's appendix and the reference test vectors.
constexpr SipKey kPaperKey{0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};

std::uint64_t hash_of_counting_bytes(std::size_t len) {
  std::array<unsigned char, 64> msg{};
  for (std::size_t i = 0; i < msg.size(); ++i) msg[i] = static_cast<unsigned char>(i);
  return siphash24(kPaperKey, msg.data(), len);
}

TEST(SipHash24, MatchesPaperVectorFor15ByteMessage) {
  EXPECT_EQ(hash_of_counting_bytes(15), 0xa129ca6149be45e5ULL);
}

TEST(SipHash24, MatchesReferenceVectorsForEmptyAndOneWordMessages) {
  EXPECT_EQ(hash_of_counting_bytes(0), 0x726fdb47dd0e0e31ULL);
  EXPECT_EQ(hash_of_counting_bytes(8), 0x93f5f5799a932462ULL);
}

TEST(SipHash24, ThreeWordFormIsLittleEndianPackingOfTheWords) {
  const unsigned char bytes[12] = {0x01, 0x00, 0x00, 0x0a, 0x02, 0x00,
                                   0x00, 0x0a, 0x88, 0x13, 0x00, 0x00};
  EXPECT_EQ(siphash24_3u32(kPaperKey, 0x0a000001, 0x0a000002, 5000),
            siphash24(kPaperKey, bytes, sizeof bytes));
}

TEST(SipHash24, DifferentKeysGiveDifferentHashes) {
  EXPECT_NE(siphash24_3u32(SipKey{1, 2}, 1, 2, 3), siphash24_3u32(SipKey{1, 3}, 1, 2, 3));
}

}  // namespace
}  // namespace twtcp::ports
