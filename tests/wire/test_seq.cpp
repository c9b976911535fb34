#include <gtest/gtest.h>

#include "wire/seq.hpp"

namespace twtcp::wire {
namespace {

// Compile-time proof that the helpers are constexpr.
static_assert(seq_before(1, 2));
static_assert(seq_after(0, 0xffffffffu));
static_assert(ts_after(5, 0xfffffff0u));

TEST(Seq, OrdinaryValuesCompareLikeIntegers) {
  EXPECT_TRUE(seq_before(100, 200));
  EXPECT_FALSE(seq_before(200, 100));
  EXPECT_TRUE(seq_after(200, 100));
  EXPECT_FALSE(seq_before(100, 100));
  EXPECT_FALSE(seq_after(100, 100));
  EXPECT_TRUE(seq_before_eq(100, 100));
  EXPECT_TRUE(seq_after_eq(100, 100));
}

TEST(Seq, WrapAroundZeroIsForward) {
  EXPECT_TRUE(seq_before(0xfffffff0u, 0x10));
  EXPECT_TRUE(seq_after(0x10, 0xfffffff0u));
  EXPECT_EQ(seq_diff(0x10, 0xfffffff0u), 0x20);
  EXPECT_EQ(seq_diff(0xfffffff0u, 0x10), -0x20);
}

TEST(Seq, DistanceJustBelowTwoToThe31IsStillForward) {
  EXPECT_TRUE(seq_before(0, 0x7fffffffu));
  EXPECT_TRUE(seq_after(0x7fffffffu, 0));
  EXPECT_TRUE(seq_before(0x80000001u, 0));  // 0 is 2^31 - 1 ahead of 0x80000001
}

// Linux's (s32)(a - b) < 0 makes two values exactly 2^31 apart each "before" (and "after")
// the other; SPEC.md's rules are written against that, so it is pinned here.
TEST(Seq, ExactlyTwoToThe31ApartIsBeforeAndAfterInBothDirections) {
  EXPECT_TRUE(seq_before(0, 0x80000000u));
  EXPECT_TRUE(seq_before(0x80000000u, 0));
  EXPECT_TRUE(seq_after(0, 0x80000000u));
  EXPECT_TRUE(seq_after(0x80000000u, 0));
  EXPECT_FALSE(seq_before_eq(0, 0x80000000u));  // !after
  EXPECT_FALSE(seq_after_eq(0, 0x80000000u));   // !before
  EXPECT_TRUE(ts_before(12345, 12345 + 0x80000000u));
  EXPECT_TRUE(ts_before(12345 + 0x80000000u, 12345));
}

TEST(Seq, BetweenIsInclusiveAndWraps) {
  EXPECT_TRUE(seq_between(5, 5, 10));
  EXPECT_TRUE(seq_between(10, 5, 10));
  EXPECT_FALSE(seq_between(4, 5, 10));
  EXPECT_FALSE(seq_between(11, 5, 10));
  EXPECT_TRUE(seq_between(0, 0xfffffff0u, 0x10));
  EXPECT_TRUE(seq_between(0xfffffff5u, 0xfffffff0u, 0x10));
  EXPECT_FALSE(seq_between(0x11, 0xfffffff0u, 0x10));
  EXPECT_TRUE(seq_between(7, 7, 7));
  EXPECT_FALSE(seq_between(8, 7, 7));
}

TEST(Seq, MinMaxFollowCircularOrder) {
  EXPECT_EQ(seq_max(0xfffffff0u, 0x10), 0x10u);
  EXPECT_EQ(seq_min(0xfffffff0u, 0x10), 0xfffffff0u);
}

TEST(Timestamps, CompareModulo2To32) {
  EXPECT_TRUE(ts_before(1, 2));
  EXPECT_TRUE(ts_after(0, 0xffffffffu));
  EXPECT_TRUE(ts_before_eq(7, 7));
  EXPECT_TRUE(ts_after_eq(7, 7));
  EXPECT_TRUE(ts_after(0, 0x80000000u));  // the 2^31 tie, as for sequence numbers
  EXPECT_TRUE(ts_after(0, 0x80000001u));  // 0 is 2^31 - 1 ahead of 0x80000001
  EXPECT_FALSE(ts_after(0, 0x7fffffffu));
  EXPECT_TRUE(ts_after(0x7fffffffu, 0));
  // The PAWS form in SPEC.md: (s32)(ts_recent - tsval) > TCP_PAWS_WINDOW rejects.
  EXPECT_EQ(ts_diff(100, 98), 2);
  EXPECT_EQ(ts_diff(1, 0xffffffffu), 2);
  EXPECT_EQ(ts_diff(0x80000000u, 0), INT32_MIN);
}

}  // namespace
}  // namespace twtcp::wire
