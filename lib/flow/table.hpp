// lib/flow/table.hpp: the connection table, 4-tuple -> connection | TIME_WAIT entry.
//
// Lookups take no lock and write no shared memory, so every lcore can look up every flow while
// other lcores insert and erase. Erased entries are reclaimed through epoch.hpp (QSBR).
//
// Geometry (one bucket = one 64-byte cache line):
//
//   +--------+--------+--------+-----+--------+
//   | meta   | slot 0 | slot 1 | ... | slot 6 |     8 x std::atomic<uint64_t>
//   +--------+--------+--------+-----+--------+
//   meta : bit 0      writer lock for keys whose home is this bucket (readers ignore it)
//          bits 8-15  probe: how many buckets past this one hold keys homed here (<= 255)
//          bits 16-31 displaced: how many keys homed here live in a later bucket
//   slot : bits 0-47  pointer to the entry (user space pointers fit in 48 bits on x86-64
//                     and AArch64); bits 48-63 a 16-bit tag from the hash; 0 = empty
//
//   buckets = capacity / (7 slots * 70%), any count: 13.1 bytes of table per entry of capacity
//   at every size (10M entries: 2,040,816 buckets, 124.6 MiB), and at most 70% of slots used.
//   home = (low 32 bits of hash * buckets) >> 32; tag = top 16 bits.
//
//   Linear probing over 7-slot buckets, random keys, 2^16 buckets (measured):
//     slots used      70%    75%    80%    85%    87.5%
//     mean probe      0.23   0.37   0.61   1.08   1.48   extra buckets a miss reads
//     homes probe=0   85%    80%    74%    66%    62%    misses that read one line
//     max probe       13     20     37     56     79
//     hits in home    94%    93%    91%    88%    87%    hits that read one bucket line
//   A first version rounded the bucket count up to a power of two, so the load at capacity
//   ranged over 44..87.5%; at the top of that range lookups were up to 3x slower than rte_hash
//   (branchy chain scans) and a 15-bucket window made inserts fail. Hence 70% everywhere and a
//   255-bucket window that only pathological hashes reach.
//
// Lookup of key k with hash h: home = h & mask, tag = h >> 48. Scan the home bucket's 7 slots;
// on a tag match compare the key in the entry. If not found, read meta.probe from the same
// line and scan that many following buckets. A hit in the home bucket costs two cache misses
// (bucket, entry); entries are not moved once published, so a reader never misses an entry
// that was present for the whole lookup.
//
// Writers must be online Readers of the entries' Domain too: scanning a chain they compare keys
// in entries that other writers may erase and retire. insert/erase/replace for key k lock k's
// home bucket (a CAS on its meta word), so writers on different lcores work concurrently; a new
// entry claims an empty slot with a CAS anywhere in [home, home + 255], so writers with
// different homes never overwrite each other.
// Deletion empties the slot (no tombstones, no backward shift): meta.probe of the home bucket
// is a high-water mark, reset to 0 when its displaced count drops to 0.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <stdexcept>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "flow/key.hpp"

namespace twtcp::flow {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

enum class EntryKind : std::uint8_t {
  kConnection = 1,  // a full connection (lib/tcp)
  kTimeWait = 2,    // a compact TIME_WAIT entry (lib/timewait)
};

// The first member (or base) of every object the table points to. key and kind are read by
// concurrent lookups, so they must not change while the entry is published; everything after
// the header belongs to the owner. 16 bytes for FlowKeyV4.
template <class Key>
struct FlowEntryHeader {
  Key key{};
  EntryKind kind = EntryKind::kConnection;
};
static_assert(sizeof(FlowEntryHeader<FlowKeyV4>) == 16);

enum class InsertResult : std::uint8_t {
  kInserted,
  kAlreadyExists,  // an entry with the same key is published; nothing changed
  kTableFull,      // size() == capacity()
  kNoFreeSlot,     // the 256-bucket probe window of the key's home is full (hash clustering)
  kBadEntry,       // null pointer, or an address above 2^48
};

[[nodiscard]] constexpr const char* reason(InsertResult r) noexcept {
  switch (r) {
    case InsertResult::kInserted:
      return "inserted";
    case InsertResult::kAlreadyExists:
      return "an entry with this key already exists";
    case InsertResult::kTableFull:
      return "flow table is at capacity";
    case InsertResult::kNoFreeSlot:
      return "no free slot within the probe window of this key";
    case InsertResult::kBadEntry:
      return "entry pointer is null or above 2^48";
  }
  return "unknown";
}

struct FlowTableConfig {
  std::size_t capacity = 1024;  // most entries at once; sizes the (fixed) bucket array
  std::uint64_t seed = 0;       // per-table hash seed; pass a random one (hash flooding)
};

// The default hash: the key's own seeded hash().
struct KeyHash {
  template <class Key>
  std::uint64_t operator()(const Key& k, std::uint64_t seed) const noexcept {
    return k.hash(seed);
  }
};

template <class Key, class Hash = KeyHash>
class FlowTable {
 public:
  using Entry = FlowEntryHeader<Key>;

  static constexpr std::size_t kSlotsPerBucket = 7;
  static constexpr std::size_t kMaxProbe = 255;  // buckets past home: meta's 8-bit field

  // Throws std::invalid_argument when capacity is 0 or absurdly large (setup-time only).
  explicit FlowTable(const FlowTableConfig& cfg, Hash hash = Hash{})
      : hash_(hash), seed_(cfg.seed), capacity_(cfg.capacity) {
    if (cfg.capacity == 0) throw std::invalid_argument("flow::FlowTable: capacity must be > 0");
    if (cfg.capacity > (std::size_t{1} << 34)) {
      throw std::invalid_argument("flow::FlowTable: capacity above 2^34");
    }
    // capacity / (7 slots * 70% load) = capacity * 10 / 49 buckets, any count (not a power of
    // two: homes come from a multiply-shift range reduction, so memory tracks capacity).
    const std::size_t want = (cfg.capacity * 10) / 49;
    nbuckets_ = want < 1 ? std::size_t{1} : want;
    buckets_.reset(alloc_buckets(nbuckets_));
  }
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  // ---- readers (any thread; the caller is an online Reader of the entries' Domain) ----

  [[nodiscard]] std::uint64_t hash_of(const Key& k) const noexcept { return hash_(k, seed_); }

  // Hints the key's home bucket into cache; lookups of a batch can be pipelined as
  // prefetch(h[i + d]) ... find(k[i], h[i]).
  void prefetch(std::uint64_t h) const noexcept { __builtin_prefetch(&buckets_[home_of(h)], 0, 3); }

  // The second stage of a pipelined lookup, after prefetch(h) had time to land: the entry of
  // the home bucket's first slot whose tag matches h, or nullptr. A hint only (the key is not
  // compared: it may be another key's entry, or the key may live past its home); reading the
  // entry's header is safe, as for any published entry.
  [[nodiscard]] const Entry* peek_home(std::uint64_t h) const noexcept {
    const std::uint64_t tag = h >> kTagShift;
    for (const auto& s : buckets_[home_of(h)].slot) {
      const std::uint64_t w = s.load(std::memory_order_acquire);
      if (w != 0 && (w >> kTagShift) == tag) return to_entry(w);
    }
    return nullptr;
  }

  // The published entry with this key, or nullptr. The pointer stays valid until the calling
  // reader's next quiescent()/offline().
  [[nodiscard]] Entry* find(const Key& k) const noexcept { return find(k, hash_of(k)); }

  [[nodiscard]] Entry* find(const Key& k, std::uint64_t h) const noexcept {
    const std::size_t home = home_of(h);
    const std::uint64_t tag = h >> kTagShift;
    const Bucket& b = buckets_[home];
    if (Entry* e = scan(b, k, tag)) return e;
    const std::size_t probe = meta_probe(b.meta.load(std::memory_order_acquire));
    for (std::size_t d = 1; d <= probe; ++d) {
      if (Entry* e = scan(buckets_[next(home, d)], k, tag)) return e;
    }
    return nullptr;
  }

  // find() for n keys at once, out[i] for keys[i]. Hashes a group, prefetches the home buckets,
  // then the entries whose tag matches, then compares: the cache misses of a group overlap
  // instead of queueing behind each other (the poll loop has a burst of segments anyway).
  void find_batch(const Key* keys, std::size_t n, Entry** out) const noexcept {
    // Software pipeline: key i's bucket is prefetched kAhead keys before its bucket is scanned,
    // and a tag match's entry kAhead2 keys before its key is compared, so about kAhead misses
    // stay in flight (more would overflow the core's miss buffers and be dropped).
    constexpr std::size_t kAhead = 8;
    constexpr std::size_t kAhead2 = 4;
    constexpr std::size_t kRing = 16;          // > kAhead + kAhead2, power of two
    constexpr std::uint64_t kCertainMiss = 1;  // never a slot word: entries are aligned
    std::uint64_t h[kRing];
    std::uint64_t cand[kRing];
    for (std::size_t i = 0; i < n + kAhead + kAhead2; ++i) {
      if (i < n) {
        h[i % kRing] = hash_of(keys[i]);
        prefetch(h[i % kRing]);
      }
      if (i >= kAhead && i - kAhead < n) {
        const std::size_t j = (i - kAhead) % kRing;
        const std::uint64_t tag = h[j] >> kTagShift;
        const Bucket& b = buckets_[home_of(h[j])];
        std::uint64_t c = 0;
        for (const auto& s : b.slot) {
          const std::uint64_t w = s.load(std::memory_order_acquire);
          if (w != 0 && (w >> kTagShift) == tag) {
            c = w;
            __builtin_prefetch(to_entry(w), 0, 3);
            break;
          }
        }
        if (c == 0) {
          if (meta_probe(b.meta.load(std::memory_order_acquire)) == 0) {
            c = kCertainMiss;
          } else {
            __builtin_prefetch(&buckets_[next(home_of(h[j]), 1)], 0, 3);  // the full path reads it
          }
        }
        cand[j] = c;
      }
      if (i >= kAhead + kAhead2 && i - kAhead - kAhead2 < n) {
        const std::size_t k = i - kAhead - kAhead2;
        const std::uint64_t c = cand[k % kRing];
        if (c == kCertainMiss) {
          out[k] = nullptr;
          continue;
        }
        Entry* e = c != 0 ? to_entry(c) : nullptr;
        // A tag collision or a displaced key takes the full path; its lines are in cache now.
        out[k] = (e != nullptr && e->key == keys[k]) ? e : find(keys[k], h[k % kRing]);
      }
    }
  }

  // Calls fn(Entry*) for every published entry (for telemetry and tests). Concurrent inserts
  // and erases may or may not be seen.
  template <class Fn>
  void for_each(Fn&& fn) const {
    for (std::size_t i = 0; i < nbuckets_; ++i) {
      for (const auto& s : buckets_[i].slot) {
        const std::uint64_t w = s.load(std::memory_order_acquire);
        if (w != 0) fn(to_entry(w));
      }
    }
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] std::size_t bucket_count() const noexcept { return nbuckets_; }
  // Bytes of the bucket array (the table's own memory, entries excluded).
  [[nodiscard]] std::size_t memory_bytes() const noexcept { return nbuckets_ * sizeof(Bucket); }

  // ---- writers (any thread; writers of the same home bucket serialise on its lock) ----

  // Publishes e (its key and kind already set). The table does not own e.
  InsertResult insert(Entry* e) noexcept {
    const std::uintptr_t p = reinterpret_cast<std::uintptr_t>(e);
    if (e == nullptr || (p >> kTagShift) != 0) return InsertResult::kBadEntry;
    const std::uint64_t h = hash_of(e->key);
    const std::size_t home = home_of(h);
    const std::uint64_t word = (h >> kTagShift) << kTagShift | p;

    if (size_.fetch_add(1, std::memory_order_relaxed) >= capacity_) {
      size_.fetch_sub(1, std::memory_order_relaxed);
      return InsertResult::kTableFull;
    }
    Bucket& hb = buckets_[home];
    const std::uint64_t meta = lock(hb);
    if (locate(e->key, h, meta).slot != nullptr) {
      unlock(hb, meta);
      size_.fetch_sub(1, std::memory_order_relaxed);
      return InsertResult::kAlreadyExists;
    }
    const std::size_t window = std::min(kMaxProbe, nbuckets_ - 1);
    for (std::size_t d = 0; d <= window; ++d) {
      for (auto& s : buckets_[next(home, d)].slot) {
        std::uint64_t expected = 0;
        if (s.load(std::memory_order_relaxed) == 0 &&
            s.compare_exchange_strong(expected, word, std::memory_order_acq_rel)) {
          std::uint64_t m = meta;
          if (d > 0) {
            m = with_probe(m, std::max(meta_probe(m), d));
            m = with_displaced(m, meta_displaced(m) + 1);
          }
          unlock(hb, m);
          return InsertResult::kInserted;
        }
      }
    }
    unlock(hb, meta);
    size_.fetch_sub(1, std::memory_order_relaxed);
    return InsertResult::kNoFreeSlot;
  }

  // Unpublishes the entry with key k and returns it (nullptr if absent). Readers may still
  // hold it: retire it through a Limbo, never free it directly.
  Entry* erase(const Key& k) noexcept { return erase_if(k, nullptr); }

  // Unpublishes e if it is the entry published under its key; false otherwise.
  bool erase(Entry* e) noexcept { return e != nullptr && erase_if(e->key, e) != nullptr; }

  // Atomically swaps the published old for repl (same key, e.g. TIME_WAIT -> new connection):
  // a concurrent lookup sees one or the other, never neither. false if old is not published,
  // the keys differ or repl is not a valid pointer. Retire old afterwards.
  bool replace(Entry* old, Entry* repl) noexcept {
    if (old == nullptr || repl == nullptr || !(old->key == repl->key)) return false;
    const std::uintptr_t p = reinterpret_cast<std::uintptr_t>(repl);
    if ((p >> kTagShift) != 0) return false;
    const std::uint64_t h = hash_of(old->key);
    Bucket& hb = buckets_[home_of(h)];
    const std::uint64_t meta = lock(hb);
    const Found f = locate(old->key, h, meta);
    bool ok = false;
    if (f.slot != nullptr && to_entry(f.word) == old) {
      f.slot->store((h >> kTagShift) << kTagShift | p, std::memory_order_release);
      ok = true;
    }
    unlock(hb, meta);
    return ok;
  }

 private:
  static constexpr unsigned kTagShift = 48;
  static constexpr std::uint64_t kPtrMask = (std::uint64_t{1} << kTagShift) - 1;
  static constexpr std::uint64_t kLockBit = 1;

  struct alignas(64) Bucket {
    std::atomic<std::uint64_t> meta{0};
    std::atomic<std::uint64_t> slot[kSlotsPerBucket]{};
  };
  static_assert(sizeof(Bucket) == 64);

  struct Found {
    std::atomic<std::uint64_t>* slot = nullptr;
    std::uint64_t word = 0;
    std::size_t distance = 0;
  };

  // Lookups hit random lines of the whole array, so at 10M entries (125 MiB) 4 KiB pages would
  // cost a TLB miss and page walk per lookup. Arrays of 2 MiB or more are 2 MiB aligned and
  // madvise()d for transparent huge pages (a hint; THP set to "never" just ignores it). All pages
  // are touched here, so the fast path never page-faults.
  static Bucket* alloc_buckets(std::size_t n) {
    constexpr std::size_t kHuge = std::size_t{2} << 20;
    const std::size_t bytes = n * sizeof(Bucket);
    const std::size_t align = bytes >= kHuge ? kHuge : alignof(Bucket);
    const std::size_t rounded = (bytes + align - 1) / align * align;
    void* p = std::aligned_alloc(align, rounded);
    if (p == nullptr) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (align == kHuge) (void)::madvise(p, rounded, MADV_HUGEPAGE);
#endif
    auto* b = static_cast<Bucket*>(p);
    for (std::size_t i = 0; i < n; ++i) new (&b[i]) Bucket();
    return b;
  }

  // The home bucket: the hash's low 32 bits scaled to [0, nbuckets) (Lemire's multiply-shift);
  // the tag uses the top 16 bits, so the two are independent.
  std::size_t home_of(std::uint64_t h) const noexcept {
    return static_cast<std::size_t>(((h & 0xffffffffULL) * nbuckets_) >> 32);
  }
  // home + d, wrapped; d < nbuckets_ always (the probe window is clamped to it).
  std::size_t next(std::size_t home, std::size_t d) const noexcept {
    const std::size_t i = home + d;
    return i >= nbuckets_ ? i - nbuckets_ : i;
  }

  static Entry* to_entry(std::uint64_t w) noexcept {
    return reinterpret_cast<Entry*>(static_cast<std::uintptr_t>(w & kPtrMask));
  }
  static std::size_t meta_probe(std::uint64_t m) noexcept {
    return (m >> 8) & 0xff;
  }
  static std::size_t meta_displaced(std::uint64_t m) noexcept {
    return (m >> 16) & 0xffff;
  }
  static std::uint64_t with_probe(std::uint64_t m, std::size_t v) noexcept {
    return (m & ~(std::uint64_t{0xff} << 8)) | (std::uint64_t{v} << 8);
  }
  static std::uint64_t with_displaced(std::uint64_t m, std::size_t v) noexcept {
    return (m & ~(std::uint64_t{0xffff} << 16)) | (std::uint64_t{v} << 16);
  }

  static Entry* scan(const Bucket& b, const Key& k, std::uint64_t tag) noexcept {
    for (const auto& s : b.slot) {
      const std::uint64_t w = s.load(std::memory_order_acquire);
      if ((w >> kTagShift) == tag && w != 0) {
        Entry* e = to_entry(w);
        if (e->key == k) return e;
      }
    }
    return nullptr;
  }

  // Writer side, under the home bucket's lock (meta is its value without the lock bit).
  Found locate(const Key& k, std::uint64_t h, std::uint64_t meta) const noexcept {
    const std::size_t home = home_of(h);
    const std::uint64_t tag = h >> kTagShift;
    const std::size_t probe = meta_probe(meta);
    for (std::size_t d = 0; d <= probe; ++d) {
      for (auto& s : buckets_[next(home, d)].slot) {
        const std::uint64_t w = s.load(std::memory_order_acquire);
        if (w != 0 && (w >> kTagShift) == tag && to_entry(w)->key == k) {
          return Found{const_cast<std::atomic<std::uint64_t>*>(&s), w, d};
        }
      }
    }
    return Found{};
  }

  Entry* erase_if(const Key& k, const Entry* only) noexcept {
    const std::uint64_t h = hash_of(k);
    Bucket& hb = buckets_[home_of(h)];
    const std::uint64_t meta = lock(hb);
    const Found f = locate(k, h, meta);
    if (f.slot == nullptr || (only != nullptr && to_entry(f.word) != only)) {
      unlock(hb, meta);
      return nullptr;
    }
    f.slot->store(0, std::memory_order_release);
    std::uint64_t m = meta;
    if (f.distance > 0) {
      const std::size_t left = meta_displaced(m) - 1;
      m = with_displaced(m, left);
      if (left == 0) m = with_probe(m, 0);
    }
    unlock(hb, m);
    size_.fetch_sub(1, std::memory_order_relaxed);
    return to_entry(f.word);
  }

  // Spins until this thread owns the bucket's writer bit; returns meta without it. Held for a
  // few dozen instructions, and only writers of keys with this home bucket contend.
  static std::uint64_t lock(Bucket& b) noexcept {
    std::uint64_t m = b.meta.load(std::memory_order_relaxed);
    for (;;) {
      if ((m & kLockBit) == 0 &&
          b.meta.compare_exchange_weak(m, m | kLockBit, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
        return m;
      }
      if (m & kLockBit) {
        cpu_relax();
        m = b.meta.load(std::memory_order_relaxed);
      }
    }
  }
  static void unlock(Bucket& b, std::uint64_t m) noexcept {
    b.meta.store(m & ~kLockBit, std::memory_order_release);
  }

  Hash hash_;
  std::uint64_t seed_;
  std::size_t capacity_;
  std::size_t nbuckets_ = 0;
  struct FreeBuckets {
    void operator()(Bucket* b) const noexcept { std::free(b); }
  };
  std::unique_ptr<Bucket[], FreeBuckets> buckets_;
  alignas(64) std::atomic<std::size_t> size_{0};
};

}  // namespace twtcp::flow
