// lib/flow/epoch.hpp: quiescent-state-based reclamation (QSBR) for the lock-free tables.
//
// Readers (lcores that look flows up) never lock and never write shared memory per lookup.
// A writer that unpublishes an object cannot free it at once, because a reader may still
// hold the pointer; it retires the object into a Limbo, which frees it once every online
// reader has passed a quiescent state (a point where it holds no table pointers, i.e. the
// top of its poll loop) after the retirement.
//
// Geometry and protocol:
//   global_                 a 64-bit epoch, starts at 1; 0 means "offline" in a reader slot.
//   slots_[max_readers]     one cache line each: the epoch the reader last observed.
//   Reader::quiescent()     slot = global (acquire load, release store).
//   Reader::offline()       slot = 0: the writer ignores this reader (e.g. while it sleeps).
//   Reader::online()        slot.exchange(global): an RMW, see below.
//   Limbo::retire(p)        tag = global.fetch_add(0, acq_rel), the epoch current when p was
//                           unpublished; remember (p, tag).
//   Limbo::reclaim()        global.fetch_add(1); safe = min over online slots (read with an
//                           RMW); free every p with tag < safe.
//
// Why it is correct (in C++ memory-model terms, so ThreadSanitizer can follow it; there are
// no standalone fences, which TSan does not model):
//  - A reader whose slot holds e > tag stored a value it loaded (acquire) from global, and that
//    value was written by an RMW later in global's modification order than the retire's
//    release RMW, i.e. in its release sequence. So the unpublish happens-before the reader's
//    epoch load, which precedes the reader's next lookups (they cannot see the old pointer),
//    and the reader's earlier uses of the pointer happen-before its release store of the slot,
//    which the reclaimer reads with acquire before freeing.
//  - The offline -> online race (classic store-buffering): the reclaimer reads each slot with
//    an RMW (fetch_add(0, acq_rel)). If it reads 0, the reader's later online() exchange reads
//    from that RMW and synchronises with it, so the reader sees every unpublish that preceded
//    the reclaim. If the reader's exchange came first, the reclaimer sees its epoch.
//
// Threading: Reader handles are per-thread. A Limbo belongs to one writer thread (each writer
// lcore has its own); several Limbos may share a Domain. A writer that is also a registered
// reader (the usual lcore) calls its own quiescent() before reclaim(), or it waits on itself.
// Nothing here allocates after construction; retire() reports kFull instead of growing.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <stdexcept>
#include <utility>

namespace twtcp::flow {

inline constexpr std::size_t kCacheLine = 64;

class Domain;

// A registered reader thread's handle. Movable, not copyable; unregisters on destruction.
// A fresh reader is online.
class Reader {
 public:
  Reader() = default;
  Reader(Reader&& o) noexcept : domain_(std::exchange(o.domain_, nullptr)), slot_(o.slot_) {}
  Reader& operator=(Reader&& o) noexcept {
    if (this != &o) {
      release();
      domain_ = std::exchange(o.domain_, nullptr);
      slot_ = o.slot_;
    }
    return *this;
  }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;
  ~Reader() { release(); }

  [[nodiscard]] bool valid() const noexcept { return domain_ != nullptr; }

  // Declares that this thread holds no pointer obtained from a table in this domain. Call once
  // per poll-loop iteration; pointers found before the call must not be used after it.
  inline void quiescent() noexcept;
  // Stops the writer from waiting on this thread (e.g. before blocking). No lookups until
  // online().
  inline void offline() noexcept;
  inline void online() noexcept;

 private:
  friend class Domain;
  Reader(Domain* d, std::size_t slot) : domain_(d), slot_(slot) {}
  inline void release() noexcept;

  Domain* domain_ = nullptr;
  std::size_t slot_ = 0;
};

class Domain {
 public:
  // max_readers: the number of reader threads that may be registered at once (lcores).
  explicit Domain(std::size_t max_readers)
      : n_(max_readers), slots_(std::make_unique<Slot[]>(max_readers)) {
    if (max_readers == 0) throw std::invalid_argument("flow::Domain: max_readers must be > 0");
  }
  Domain(const Domain&) = delete;
  Domain& operator=(const Domain&) = delete;

  // Claims a reader slot for the calling thread; an invalid Reader when all are taken.
  [[nodiscard]] Reader register_reader() noexcept {
    for (std::size_t i = 0; i < n_; ++i) {
      bool expected = false;
      if (slots_[i].used.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) {
        Reader r(this, i);
        r.online();
        return r;
      }
    }
    return Reader{};
  }

  [[nodiscard]] std::size_t max_readers() const noexcept { return n_; }
  [[nodiscard]] std::uint64_t epoch() const noexcept {
    return global_.load(std::memory_order_acquire);
  }

  // The epoch to tag an object with, read after it was unpublished. An RMW so that it heads a
  // release sequence on global_ (see the header comment).
  std::uint64_t retire_epoch() noexcept { return global_.fetch_add(0, std::memory_order_acq_rel); }

  // Advances the epoch and returns the oldest epoch any online reader may still be in: an
  // object retired with tag < the result is unreachable by every reader.
  std::uint64_t advance_and_scan() noexcept {
    const std::uint64_t now = global_.fetch_add(1, std::memory_order_acq_rel) + 1;
    std::uint64_t safe = now;
    for (std::size_t i = 0; i < n_; ++i) {
      const std::uint64_t e = slots_[i].epoch.fetch_add(0, std::memory_order_acq_rel);
      if (e != 0 && e < safe) safe = e;
    }
    return safe;
  }

 private:
  friend class Reader;
  struct alignas(kCacheLine) Slot {
    std::atomic<std::uint64_t> epoch{0};
    std::atomic<bool> used{false};
  };

  alignas(kCacheLine) std::atomic<std::uint64_t> global_{1};
  std::size_t n_;
  std::unique_ptr<Slot[]> slots_;
};

inline void Reader::quiescent() noexcept {
  Domain::Slot& s = domain_->slots_[slot_];
  s.epoch.store(domain_->global_.load(std::memory_order_acquire), std::memory_order_release);
}

inline void Reader::offline() noexcept {
  domain_->slots_[slot_].epoch.store(0, std::memory_order_release);
}

inline void Reader::online() noexcept {
  Domain::Slot& s = domain_->slots_[slot_];
  s.epoch.exchange(domain_->global_.load(std::memory_order_acquire), std::memory_order_acq_rel);
}

inline void Reader::release() noexcept {
  if (domain_ == nullptr) return;
  offline();
  domain_->slots_[slot_].used.store(false, std::memory_order_release);
  domain_ = nullptr;
}

// A writer's bounded list of retired objects. Each item is (object, deleter, context, epoch):
// 32 bytes, kept in a ring owned by the writer rather than a hook inside the object, because
// readers may still read every byte of a retired object, and TIME_WAIT entries cannot spare 16
// bytes.
class Limbo {
 public:
  using Deleter = void (*)(void* obj, void* ctx) noexcept;

  enum class RetireResult : std::uint8_t {
    kRetired,
    kFull,  // even after a reclaim: a reader has not passed a quiescent state; keep obj
  };

  Limbo(Domain& domain, std::size_t capacity)
      : domain_(&domain), cap_(capacity), items_(std::make_unique<Item[]>(capacity)) {
    if (capacity == 0) throw std::invalid_argument("flow::Limbo: capacity must be > 0");
  }
  Limbo(const Limbo&) = delete;
  Limbo& operator=(const Limbo&) = delete;
  // Frees nothing: destroying a Limbo with pending objects would free them under live readers.
  // Call drain() when no reader can hold them (e.g. after the readers stopped).
  ~Limbo() = default;

  // Retires an already unpublished object; deleter(obj, ctx) runs once no reader can hold it.
  RetireResult retire(void* obj, Deleter deleter, void* ctx = nullptr) noexcept {
    if (count_ == cap_) {
      reclaim();
      if (count_ == cap_) return RetireResult::kFull;
    }
    const std::uint64_t tag = domain_->retire_epoch();
    items_[(head_ + count_) % cap_] = Item{obj, deleter, ctx, tag};
    ++count_;
    return RetireResult::kRetired;
  }

  // True when a retire() would succeed now (reclaiming first if the ring is full). Lets a
  // writer check before it unpublishes something it could not then retire.
  bool make_room() noexcept {
    if (count_ == cap_) reclaim();
    return count_ != cap_;
  }

  // Frees what is safe to free; returns how many objects were freed. Cheap enough to call once
  // per poll-loop iteration when pending() != 0.
  std::size_t reclaim() noexcept {
    if (count_ == 0) return 0;
    const std::uint64_t safe = domain_->advance_and_scan();
    std::size_t freed = 0;
    // Tags are non-decreasing along the ring, so the safe ones form a prefix.
    while (count_ != 0 && items_[head_].tag < safe) {
      Item it = items_[head_];
      head_ = (head_ + 1) % cap_;
      --count_;
      it.deleter(it.obj, it.ctx);
      ++freed;
    }
    return freed;
  }

  // Frees everything regardless of readers. Only for shutdown, once no reader runs.
  void drain() noexcept {
    while (count_ != 0) {
      Item it = items_[head_];
      head_ = (head_ + 1) % cap_;
      --count_;
      it.deleter(it.obj, it.ctx);
    }
  }

  [[nodiscard]] std::size_t pending() const noexcept { return count_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return cap_; }

 private:
  struct Item {
    void* obj;
    Deleter deleter;
    void* ctx;
    std::uint64_t tag;
  };

  Domain* domain_;
  std::size_t cap_;
  std::unique_ptr<Item[]> items_;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
};

// A Deleter that calls `delete static_cast<T*>(obj)`.
template <class T>
void delete_object(void* obj, void*) noexcept {
  delete static_cast<T*>(obj);
}

}  // namespace twtcp::flow
