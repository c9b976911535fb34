// lib/flow/listener.hpp: the listener table, (local address, local port) -> listener.
//
// A listener bound to address 0 (INADDR_ANY) accepts SYNs to any local address on its port;
// one bound to a specific address wins over the wildcard, like Linux's lookup scoring.
//
// There are few listeners and they change at setup, so the table is an immutable sorted array
// behind one atomic pointer (read-copy-update): find() is a binary search with no lock, and
// add()/remove() build a new array and retire the old one through the writer's Limbo. Writers
// are one control thread at a time (add/remove allocate; they are not on the packet path).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <vector>

#include "flow/epoch.hpp"

namespace twtcp::flow {

enum class ListenerResult : std::uint8_t {
  kOk,
  kAlreadyExists,  // add: this exact (address, port) is taken
  kNotFound,       // remove: no such (address, port)
  kBusy,           // the writer's Limbo is full (a reader is stuck); nothing changed, retry later
};

// Addr: the local address type (uint32_t for IPv4 in host order; an IPv6 type later). Addr{}
// is the wildcard. Needs operator<=>.
template <class Listener, class Addr = std::uint32_t>
class ListenerTable {
 public:
  // limbo: the writer's, used to retire replaced arrays.
  explicit ListenerTable(Limbo& limbo) : limbo_(&limbo), cur_(new Snapshot{}) {}
  ListenerTable(const ListenerTable&) = delete;
  ListenerTable& operator=(const ListenerTable&) = delete;
  // Readers must be gone, and the Limbo drained or reclaimed, before destruction.
  ~ListenerTable() { delete cur_.load(std::memory_order_acquire); }

  // The listener for a SYN to (addr, port): exact address first, then the wildcard; nullptr
  // if none. Valid until the calling reader's next quiescent().
  [[nodiscard]] Listener* find(const Addr& addr, std::uint16_t port) const noexcept {
    const Snapshot* s = cur_.load(std::memory_order_acquire);
    if (Listener* l = s->exact(addr, port)) return l;
    if (!(addr == Addr{})) return s->exact(Addr{}, port);
    return nullptr;
  }

  ListenerResult add(const Addr& addr, std::uint16_t port, Listener* l) {
    const Snapshot* old = cur_.load(std::memory_order_acquire);
    if (old->exact(addr, port) != nullptr) return ListenerResult::kAlreadyExists;
    auto* next = new Snapshot{old->items};
    const Item it{port, addr, l};
    next->items.insert(std::lower_bound(next->items.begin(), next->items.end(), it, less), it);
    return publish(old, next);
  }

  ListenerResult remove(const Addr& addr, std::uint16_t port) {
    const Snapshot* old = cur_.load(std::memory_order_acquire);
    if (old->exact(addr, port) == nullptr) return ListenerResult::kNotFound;
    auto* next = new Snapshot{};
    for (const Item& i : old->items) {
      if (!(i.port == port && i.addr == addr)) next->items.push_back(i);
    }
    return publish(old, next);
  }

  [[nodiscard]] std::size_t size() const noexcept {
    return cur_.load(std::memory_order_acquire)->items.size();
  }

 private:
  struct Item {
    std::uint16_t port;
    Addr addr;
    Listener* listener;
  };
  static bool less(const Item& a, const Item& b) noexcept {
    return a.port != b.port ? a.port < b.port : a.addr < b.addr;
  }
  struct Snapshot {
    std::vector<Item> items;  // sorted by (port, addr)
    Listener* exact(const Addr& addr, std::uint16_t port) const noexcept {
      const Item key{port, addr, nullptr};
      auto i = std::lower_bound(items.begin(), items.end(), key, less);
      return (i != items.end() && i->port == port && i->addr == addr) ? i->listener : nullptr;
    }
  };

  ListenerResult publish(const Snapshot* old, Snapshot* next) {
    // Room first, so that once the new array is published the old one is surely retired.
    if (!limbo_->make_room()) {
      delete next;
      return ListenerResult::kBusy;
    }
    cur_.store(next, std::memory_order_release);
    (void)limbo_->retire(const_cast<Snapshot*>(old), &delete_object<Snapshot>);
    return ListenerResult::kOk;
  }

  Limbo* limbo_;
  std::atomic<const Snapshot*> cur_;
};

}  // namespace twtcp::flow
