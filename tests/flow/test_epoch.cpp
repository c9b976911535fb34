// QSBR reclamation: an object is freed only after every online reader passed a quiescent state.
#include <gtest/gtest.h>

#include <vector>

#include "flow/epoch.hpp"

namespace twtcp::flow {
namespace {

struct Counted {
  int* frees;
};
void count_free(void* obj, void*) noexcept {
  auto* c = static_cast<Counted*>(obj);
  ++*c->frees;
  delete c;
}

TEST(Epoch, RetiredObjectWaitsForEveryOnlineReaderToPassAQuiescentState) {
  Domain d(4);
  Reader a = d.register_reader();
  Reader b = d.register_reader();
  ASSERT_TRUE(a.valid() && b.valid());
  Limbo limbo(d, 16);
  int frees = 0;
  ASSERT_EQ(limbo.retire(new Counted{&frees}, &count_free), Limbo::RetireResult::kRetired);
  EXPECT_EQ(limbo.reclaim(), 0u);
  a.quiescent();
  EXPECT_EQ(limbo.reclaim(), 0u);  // b may still hold it
  b.quiescent();
  EXPECT_EQ(limbo.reclaim(), 1u);
  EXPECT_EQ(frees, 1);
  EXPECT_EQ(limbo.pending(), 0u);
}

TEST(Epoch, QuiescentStateBeforeTheRetireDoesNotCount) {
  Domain d(2);
  Reader a = d.register_reader();
  Limbo limbo(d, 16);
  int frees = 0;
  a.quiescent();
  ASSERT_EQ(limbo.retire(new Counted{&frees}, &count_free), Limbo::RetireResult::kRetired);
  EXPECT_EQ(limbo.reclaim(), 0u);
  a.quiescent();
  EXPECT_EQ(limbo.reclaim(), 1u);
}

TEST(Epoch, OfflineReaderDoesNotHoldBackReclaim) {
  Domain d(2);
  Reader a = d.register_reader();
  Limbo limbo(d, 16);
  int frees = 0;
  a.offline();
  ASSERT_EQ(limbo.retire(new Counted{&frees}, &count_free), Limbo::RetireResult::kRetired);
  EXPECT_EQ(limbo.reclaim(), 1u);
  a.online();  // online again: it holds back what is retired from now on
  ASSERT_EQ(limbo.retire(new Counted{&frees}, &count_free), Limbo::RetireResult::kRetired);
  EXPECT_EQ(limbo.reclaim(), 0u);
  a.quiescent();
  EXPECT_EQ(limbo.reclaim(), 1u);
  EXPECT_EQ(frees, 2);
}

TEST(Epoch, WithoutReadersObjectsAreFreedAtTheNextReclaim) {
  Domain d(1);
  Limbo limbo(d, 4);
  int frees = 0;
  for (int i = 0; i < 3; ++i) (void)limbo.retire(new Counted{&frees}, &count_free);
  EXPECT_EQ(limbo.reclaim(), 3u);
  EXPECT_EQ(frees, 3);
}

TEST(Epoch, ReaderSlotsAreBoundedAndReusedAfterUnregister) {
  Domain d(2);
  Reader a = d.register_reader();
  Reader b = d.register_reader();
  Reader c = d.register_reader();
  EXPECT_TRUE(a.valid());
  EXPECT_TRUE(b.valid());
  EXPECT_FALSE(c.valid());
  { Reader gone = std::move(b); }
  Reader again = d.register_reader();
  EXPECT_TRUE(again.valid());
}

TEST(Epoch, UnregisteredReaderNoLongerHoldsBackReclaim) {
  Domain d(2);
  Limbo limbo(d, 4);
  int frees = 0;
  {
    Reader a = d.register_reader();
    (void)limbo.retire(new Counted{&frees}, &count_free);
    EXPECT_EQ(limbo.reclaim(), 0u);
  }
  EXPECT_EQ(limbo.reclaim(), 1u);
}

TEST(Epoch, FullLimboReportsFullAndLeavesTheObjectToTheCaller) {
  Domain d(1);
  Reader stuck = d.register_reader();
  Limbo limbo(d, 2);
  int frees = 0;
  ASSERT_EQ(limbo.retire(new Counted{&frees}, &count_free), Limbo::RetireResult::kRetired);
  ASSERT_EQ(limbo.retire(new Counted{&frees}, &count_free), Limbo::RetireResult::kRetired);
  EXPECT_FALSE(limbo.make_room());
  auto* third = new Counted{&frees};
  EXPECT_EQ(limbo.retire(third, &count_free), Limbo::RetireResult::kFull);
  stuck.quiescent();
  EXPECT_TRUE(limbo.make_room());  // reclaimed the first two
  EXPECT_EQ(frees, 2);
  EXPECT_EQ(limbo.retire(third, &count_free), Limbo::RetireResult::kRetired);
  limbo.drain();
  EXPECT_EQ(frees, 3);
}

TEST(Epoch, ZeroSizesAreRejectedAtConstruction) {
  EXPECT_THROW(Domain(0), std::invalid_argument);
  Domain d(1);
  EXPECT_THROW(Limbo(d, 0), std::invalid_argument);
}

}  // namespace
}  // namespace twtcp::flow
