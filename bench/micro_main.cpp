// bench/micro_main.cpp: starts DPDK's EAL (for the rte_timer and rte_hash
// baselines) without hugepages or PCI, then runs Google Benchmark.
#include <benchmark/benchmark.h>
#include <rte_eal.h>
#include <rte_timer.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  // rte_hash at 10M keys needs a few GiB of EAL memory; --no-huge backs it
  // with ordinary pages, so the figure is an upper bound on what it costs.
  std::string prefix = "twtcp-bench-" + std::to_string(getpid());
  std::vector<std::string> eal_args = {
      "twtcp-microbench", "--no-huge", "--no-pci",       "-m", "6144", "--file-prefix", prefix,
      "--log-level",      "error",     "--no-telemetry", "-l", "0"};
  std::vector<char*> eal_argv;
  for (auto& a : eal_args) eal_argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
    std::fprintf(stderr, "twtcp-microbench: rte_eal_init failed (run as root?)\n");
    return 1;
  }
  if (rte_timer_subsystem_init() < 0) {
    std::fprintf(stderr, "twtcp-microbench: rte_timer_subsystem_init failed\n");
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  rte_eal_cleanup();
  return 0;
}
