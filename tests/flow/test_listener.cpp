// ListenerTable: exact (address, port) wins over the wildcard address 0.
#include <gtest/gtest.h>

#include "flow/epoch.hpp"
#include "flow/listener.hpp"

namespace twtcp::flow {
namespace {

struct L {
  int id;
};

class ListenerTableTest : public ::testing::Test {
 protected:
  Domain domain{2};
  Limbo limbo{domain, 8};
  ListenerTable<L> table{limbo};
  L any80{1}, exact80{2}, any443{3};
  ~ListenerTableTest() override { limbo.drain(); }
};

TEST_F(ListenerTableTest, WildcardListenerMatchesAnyLocalAddress) {
  ASSERT_EQ(table.add(0, 80, &any80), ListenerResult::kOk);
  EXPECT_EQ(table.find(0xc6120001, 80), &any80);
  EXPECT_EQ(table.find(0x0a000001, 80), &any80);
  EXPECT_EQ(table.find(0xc6120001, 81), nullptr);
}

TEST_F(ListenerTableTest, ExactAddressWinsOverWildcard) {
  ASSERT_EQ(table.add(0, 80, &any80), ListenerResult::kOk);
  ASSERT_EQ(table.add(0xc6120001, 80, &exact80), ListenerResult::kOk);
  ASSERT_EQ(table.add(0, 443, &any443), ListenerResult::kOk);
  EXPECT_EQ(table.find(0xc6120001, 80), &exact80);
  EXPECT_EQ(table.find(0xc6120002, 80), &any80);
  EXPECT_EQ(table.find(0xc6120001, 443), &any443);
  EXPECT_EQ(table.size(), 3u);
}

TEST_F(ListenerTableTest, ExactOnlyListenerIgnoresOtherAddresses) {
  ASSERT_EQ(table.add(0xc6120001, 80, &exact80), ListenerResult::kOk);
  EXPECT_EQ(table.find(0xc6120002, 80), nullptr);
  EXPECT_EQ(table.find(0, 80), nullptr);
}

TEST_F(ListenerTableTest, DuplicateAddIsRefusedAndRemoveOfUnknownIsNotFound) {
  ASSERT_EQ(table.add(0, 80, &any80), ListenerResult::kOk);
  EXPECT_EQ(table.add(0, 80, &exact80), ListenerResult::kAlreadyExists);
  EXPECT_EQ(table.find(1, 80), &any80);
  EXPECT_EQ(table.remove(0, 81), ListenerResult::kNotFound);
}

TEST_F(ListenerTableTest, RemovingTheExactListenerFallsBackToWildcard) {
  ASSERT_EQ(table.add(0, 80, &any80), ListenerResult::kOk);
  ASSERT_EQ(table.add(0xc6120001, 80, &exact80), ListenerResult::kOk);
  ASSERT_EQ(table.remove(0xc6120001, 80), ListenerResult::kOk);
  EXPECT_EQ(table.find(0xc6120001, 80), &any80);
  ASSERT_EQ(table.remove(0, 80), ListenerResult::kOk);
  EXPECT_EQ(table.find(0xc6120001, 80), nullptr);
  EXPECT_EQ(table.size(), 0u);
}

TEST_F(ListenerTableTest, ChangeIsRefusedWhileTheWriterCannotRetireTheOldArray) {
  Reader stuck = domain.register_reader();
  for (int i = 0; i < 8; ++i) ASSERT_EQ(table.add(0, 1000 + i, &any80), ListenerResult::kOk);
  EXPECT_EQ(table.add(0, 80, &any80), ListenerResult::kBusy);
  EXPECT_EQ(table.find(1, 80), nullptr);
  EXPECT_EQ(table.find(1, 1007), &any80);
  stuck.quiescent();
  EXPECT_EQ(table.add(0, 80, &any80), ListenerResult::kOk);
  EXPECT_EQ(table.find(1, 80), &any80);
}

}  // namespace
}  // namespace twtcp::flow
