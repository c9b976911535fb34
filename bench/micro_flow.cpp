// bench/micro_flow.cpp: twtcp's flow table beside DPDK's rte_hash (lock-free reader/writer
// mode, RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF) on the same keys in the same run.
//
// For each table size N (1k .. 10M live entries):
//   LookupHit    one lookup of a present key per iteration, keys in random order
//   LookupMiss   one lookup of an absent key per iteration
//   LookupHitBulk32 / LookupMissBulk32  32 lookups per iteration (a poll loop's RX burst):
//                FlowTable::find_batch vs rte_hash_lookup_bulk_data; items/s counts keys
//   InsertErase  insert a new key then erase it (the table stays at N entries); for twtcp the
//                erased entry also goes through QSBR retire + a reclaim every 64 operations,
//                for rte_hash the key slot is freed with rte_hash_free_key_with_position
//                (required in LF mode without its RCU), so both pay their reclamation.
// Keys are random 4-tuples (12 bytes), generated once per N. Lookup keys are pre-materialised in
// a random permutation and read sequentially, so the cache misses measured are the tables' own.
// twtcp's entries are 48 bytes (a TIME_WAIT entry's budget) in one array; rte_hash stores a
// pointer to the same entry as its data, and its lookup returns it (rte_hash_lookup_data).
//
// Both fixtures for one N are built once and shared by the six benchmarks of that N, which are
// registered N-major so the 10M build happens once.
#include <benchmark/benchmark.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_lcore.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <new>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "flow/epoch.hpp"
#include "flow/key.hpp"
#include "flow/table.hpp"

namespace {

using twtcp::flow::FlowKeyV4;

struct BenchEntry : twtcp::flow::FlowEntryHeader<FlowKeyV4> {
  std::uint8_t state[32];  // stands in for a TIME_WAIT entry's body: 48 bytes in all
};
static_assert(sizeof(BenchEntry) == 48);

using Table = twtcp::flow::FlowTable<FlowKeyV4>;

std::uint64_t mix(std::uint64_t x) {  // splitmix64's finaliser: a bijection on 64 bits
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Distinct for distinct i: (local_addr, remote_addr) is a bijection of i.
FlowKeyV4 random_key(std::uint64_t i) {
  const std::uint64_t a = mix(i);
  const std::uint64_t p = mix(i ^ 0xabcdef12345ULL);
  return FlowKeyV4{static_cast<std::uint32_t>(a), static_cast<std::uint32_t>(a >> 32),
                   static_cast<std::uint16_t>(p), static_cast<std::uint16_t>(p >> 16)};
}

// Entries live where a stack's entry pool would: memory backed by huge pages (DPDK mempools
// are; here a 2 MiB-aligned allocation madvise()d for transparent huge pages). rte_hash's own
// arrays come from the EAL heap the same way.
template <class T>
class HugeArray {
 public:
  explicit HugeArray(std::size_t n) : n_(n) {
    constexpr std::size_t kHuge = std::size_t{2} << 20;
    const std::size_t bytes = (n * sizeof(T) + kHuge - 1) / kHuge * kHuge;
    p_ = static_cast<T*>(std::aligned_alloc(kHuge, bytes));
    if (p_ == nullptr) throw std::bad_alloc();
    (void)madvise(p_, bytes, MADV_HUGEPAGE);
    for (std::size_t i = 0; i < n; ++i) new (&p_[i]) T();
  }
  ~HugeArray() { std::free(p_); }
  HugeArray(const HugeArray&) = delete;
  HugeArray& operator=(const HugeArray&) = delete;
  T& operator[](std::size_t i) { return p_[i]; }
  T* begin() { return p_; }
  T* end() { return p_ + n_; }

 private:
  T* p_;
  std::size_t n_;
};

struct Fixture {
  std::size_t n = 0;
  HugeArray<BenchEntry> entries;     // n present keys
  HugeArray<BenchEntry> spares;      // n absent keys (misses, and InsertErase's new keys)
  std::vector<FlowKeyV4> hit_keys;   // present keys in random order
  std::vector<FlowKeyV4> miss_keys;  // absent keys in random order
  std::unique_ptr<Table> table;
  rte_hash* rte = nullptr;
  bool flow_ok = false;
  bool rte_ok = false;

  explicit Fixture(std::size_t count) : n(count), entries(count), spares(count) {
    for (std::size_t i = 0; i < n; ++i) {
      entries[i].key = random_key(i);
      spares[i].key = random_key(i + n);
    }
    std::vector<std::uint32_t> perm(n);
    std::iota(perm.begin(), perm.end(), 0u);
    std::mt19937_64 rng(n);
    std::shuffle(perm.begin(), perm.end(), rng);
    hit_keys.reserve(n);
    for (std::uint32_t i : perm) hit_keys.push_back(entries[i].key);
    std::shuffle(perm.begin(), perm.end(), rng);
    miss_keys.reserve(n);
    for (std::uint32_t i : perm) miss_keys.push_back(spares[i].key);

    table = std::make_unique<Table>(twtcp::flow::FlowTableConfig{n + 1, 0x5eed5eed5eedULL});
    for (auto& e : entries) {
      if (table->insert(&e) != twtcp::flow::InsertResult::kInserted) {
        std::fprintf(stderr, "micro_flow: FlowTable insert failed at N=%zu\n", n);
        return;
      }
    }
    flow_ok = true;

    const std::string name = "twtcp_flow_" + std::to_string(n);
    rte_hash_parameters params{};
    params.name = name.c_str();
    params.entries = static_cast<std::uint32_t>(n + n / 4);
    params.key_len = sizeof(FlowKeyV4);
    params.hash_func = rte_hash_crc;
    params.hash_func_init_val = 0;
    params.socket_id = static_cast<int>(rte_socket_id());
    params.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF;
    rte = rte_hash_create(&params);
    if (rte == nullptr) {
      std::fprintf(stderr, "micro_flow: rte_hash_create(%zu) failed: %s\n", n,
                   rte_strerror(rte_errno));
      return;
    }
    for (auto& e : entries) {
      if (rte_hash_add_key_data(rte, &e.key, &e) < 0) {
        std::fprintf(stderr, "micro_flow: rte_hash_add_key_data failed at N=%zu\n", n);
        return;
      }
    }
    rte_ok = true;
  }
  ~Fixture() {
    if (rte) rte_hash_free(rte);
  }
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;
};

// One fixture at a time: the 10M one holds about 1.5 GiB. The last one is left to the process
// exit on purpose: a static destructor would run rte_hash_free after main's rte_eal_cleanup.
Fixture& fixture(std::size_t n) {
  static Fixture* f = nullptr;
  if (f == nullptr || f->n != n) {
    delete f;
    f = nullptr;
    f = new Fixture(n);
  }
  return *f;
}

void report(benchmark::State& state, const Fixture& f, bool ours) {
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  if (ours) {
    state.counters["table_B_per_entry"] =
        static_cast<double>(f.table->memory_bytes()) / static_cast<double>(f.n);
  }
}

void BM_FlowTable_LookupHit(benchmark::State& state) {
  Fixture& f = fixture(static_cast<std::size_t>(state.range(0)));
  if (!f.flow_ok) {
    state.SkipWithError("FlowTable setup failed");
    return;
  }
  std::size_t i = 0;
  std::size_t found = 0;
  for (auto _ : state) {
    auto* e = f.table->find(f.hit_keys[i]);
    found += e != nullptr;
    benchmark::DoNotOptimize(e);
    if (++i == f.n) i = 0;
  }
  if (found != static_cast<std::size_t>(state.iterations())) state.SkipWithError("missed a hit");
  report(state, f, true);
}

void BM_FlowTable_LookupMiss(benchmark::State& state) {
  Fixture& f = fixture(static_cast<std::size_t>(state.range(0)));
  if (!f.flow_ok) {
    state.SkipWithError("FlowTable setup failed");
    return;
  }
  std::size_t i = 0;
  std::size_t found = 0;
  for (auto _ : state) {
    auto* e = f.table->find(f.miss_keys[i]);
    found += e != nullptr;
    benchmark::DoNotOptimize(e);
    if (++i == f.n) i = 0;
  }
  if (found != 0) state.SkipWithError("found an absent key");
  report(state, f, true);
}

constexpr std::size_t kBurst = 32;  // a poll loop's RX burst

// Bulk variants: kBurst lookups per iteration (items/s counts keys), find_batch against
// rte_hash_lookup_bulk_data, both of which overlap the cache misses of a burst.
void flow_bulk(benchmark::State& state, bool hits) {
  Fixture& f = fixture(static_cast<std::size_t>(state.range(0)));
  if (!f.flow_ok) {
    state.SkipWithError("FlowTable setup failed");
    return;
  }
  const std::vector<FlowKeyV4>& ks = hits ? f.hit_keys : f.miss_keys;
  twtcp::flow::FlowEntryHeader<FlowKeyV4>* out[kBurst];
  std::size_t i = 0;
  std::size_t found = 0;
  const std::size_t wrap = f.n - f.n % kBurst;
  for (auto _ : state) {
    f.table->find_batch(&ks[i], kBurst, out);
    for (auto* e : out) found += e != nullptr;
    benchmark::DoNotOptimize(out);
    i += kBurst;
    if (i == wrap) i = 0;
  }
  if (found != (hits ? kBurst * static_cast<std::size_t>(state.iterations()) : 0)) {
    state.SkipWithError("wrong result");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBurst));
}

void rte_bulk(benchmark::State& state, bool hits) {
  Fixture& f = fixture(static_cast<std::size_t>(state.range(0)));
  if (!f.rte_ok) {
    state.SkipWithError("rte_hash setup failed");
    return;
  }
  const std::vector<FlowKeyV4>& ks = hits ? f.hit_keys : f.miss_keys;
  const void* kp[kBurst];
  void* data[kBurst];
  std::size_t i = 0;
  std::size_t found = 0;
  const std::size_t wrap = f.n - f.n % kBurst;
  for (auto _ : state) {
    for (std::size_t j = 0; j < kBurst; ++j) kp[j] = &ks[i + j];
    std::uint64_t mask = 0;
    rte_hash_lookup_bulk_data(f.rte, kp, kBurst, &mask, data);
    found += static_cast<std::size_t>(__builtin_popcountll(mask));
    benchmark::DoNotOptimize(data);
    i += kBurst;
    if (i == wrap) i = 0;
  }
  if (found != (hits ? kBurst * static_cast<std::size_t>(state.iterations()) : 0)) {
    state.SkipWithError("wrong result");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBurst));
}

void BM_FlowTable_LookupHitBulk32(benchmark::State& state) {
  flow_bulk(state, true);
}
void BM_FlowTable_LookupMissBulk32(benchmark::State& state) {
  flow_bulk(state, false);
}
void BM_RteHash_LookupHitBulk32(benchmark::State& state) {
  rte_bulk(state, true);
}
void BM_RteHash_LookupMissBulk32(benchmark::State& state) {
  rte_bulk(state, false);
}

void noop_free(void*, void*) noexcept {}

void BM_FlowTable_InsertErase(benchmark::State& state) {
  Fixture& f = fixture(static_cast<std::size_t>(state.range(0)));
  if (!f.flow_ok) {
    state.SkipWithError("FlowTable setup failed");
    return;
  }
  twtcp::flow::Domain domain(1);  // no reader registered: reclaim frees at once
  twtcp::flow::Limbo limbo(domain, 256);
  std::size_t i = 0;
  std::size_t failed = 0;
  for (auto _ : state) {
    BenchEntry& e = f.spares[i];
    failed += f.table->insert(&e) != twtcp::flow::InsertResult::kInserted;
    auto* gone = f.table->erase(e.key);
    (void)limbo.retire(gone, &noop_free);
    if ((i & 63) == 0) limbo.reclaim();
    if (++i == f.n) i = 0;
  }
  limbo.drain();
  if (failed != 0) state.SkipWithError("insert failed");
  report(state, f, true);
}

void BM_RteHash_LookupHit(benchmark::State& state) {
  Fixture& f = fixture(static_cast<std::size_t>(state.range(0)));
  if (!f.rte_ok) {
    state.SkipWithError("rte_hash setup failed");
    return;
  }
  std::size_t i = 0;
  std::size_t found = 0;
  for (auto _ : state) {
    void* data = nullptr;
    found += rte_hash_lookup_data(f.rte, &f.hit_keys[i], &data) >= 0;
    benchmark::DoNotOptimize(data);
    if (++i == f.n) i = 0;
  }
  if (found != static_cast<std::size_t>(state.iterations())) state.SkipWithError("missed a hit");
  report(state, f, false);
}

void BM_RteHash_LookupMiss(benchmark::State& state) {
  Fixture& f = fixture(static_cast<std::size_t>(state.range(0)));
  if (!f.rte_ok) {
    state.SkipWithError("rte_hash setup failed");
    return;
  }
  std::size_t i = 0;
  std::size_t found = 0;
  for (auto _ : state) {
    void* data = nullptr;
    found += rte_hash_lookup_data(f.rte, &f.miss_keys[i], &data) >= 0;
    benchmark::DoNotOptimize(data);
    if (++i == f.n) i = 0;
  }
  if (found != 0) state.SkipWithError("found an absent key");
  report(state, f, false);
}

void BM_RteHash_InsertErase(benchmark::State& state) {
  Fixture& f = fixture(static_cast<std::size_t>(state.range(0)));
  if (!f.rte_ok) {
    state.SkipWithError("rte_hash setup failed");
    return;
  }
  std::size_t i = 0;
  std::size_t failed = 0;
  for (auto _ : state) {
    BenchEntry& e = f.spares[i];
    failed += rte_hash_add_key_data(f.rte, &e.key, &e) < 0;
    const std::int32_t pos = rte_hash_del_key(f.rte, &e.key);
    if (pos >= 0) rte_hash_free_key_with_position(f.rte, pos);
    if (++i == f.n) i = 0;
  }
  if (failed != 0) state.SkipWithError("insert failed");
  report(state, f, false);
}

// N-major registration: all six benchmarks of one size run back to back on one fixture.
[[maybe_unused]] const bool registered = [] {
  for (std::int64_t n : {1000, 100000, 1000000, 10000000}) {
    benchmark::RegisterBenchmark("BM_FlowTable_LookupHit", BM_FlowTable_LookupHit)->Arg(n);
    benchmark::RegisterBenchmark("BM_RteHash_LookupHit", BM_RteHash_LookupHit)->Arg(n);
    benchmark::RegisterBenchmark("BM_FlowTable_LookupMiss", BM_FlowTable_LookupMiss)->Arg(n);
    benchmark::RegisterBenchmark("BM_RteHash_LookupMiss", BM_RteHash_LookupMiss)->Arg(n);
    benchmark::RegisterBenchmark("BM_FlowTable_LookupHitBulk32", BM_FlowTable_LookupHitBulk32)
        ->Arg(n);
    benchmark::RegisterBenchmark("BM_RteHash_LookupHitBulk32", BM_RteHash_LookupHitBulk32)->Arg(n);
    benchmark::RegisterBenchmark("BM_FlowTable_LookupMissBulk32", BM_FlowTable_LookupMissBulk32)
        ->Arg(n);
    benchmark::RegisterBenchmark("BM_RteHash_LookupMissBulk32", BM_RteHash_LookupMissBulk32)
        ->Arg(n);
    benchmark::RegisterBenchmark("BM_FlowTable_InsertErase", BM_FlowTable_InsertErase)->Arg(n);
    benchmark::RegisterBenchmark("BM_RteHash_InsertErase", BM_RteHash_InsertErase)->Arg(n);
  }
  return true;
}();

}  // namespace
