// bench/micro_main.cpp: starts DPDK's EAL (for the rte_timer and rte_hash
// baselines) without hugepages or PCI, then runs Google Benchmark. Exits 1 if any benchmark
// reported an error (SkipWithError: a benchmark whose segments did not do what it measures),
// so the smoke run in the test command fails on it.
#include <benchmark/benchmark.h>
#include <rte_timer.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "dpdk/eal.hpp"

namespace {

// Forwards to the reporter the --benchmark_format flag chose and counts runs with errors.
class ErrorCountingReporter final : public benchmark::BenchmarkReporter {
 public:
  explicit ErrorCountingReporter(benchmark::BenchmarkReporter* inner) : inner_(inner) {}
  bool ReportContext(const Context& context) override {
    inner_->SetOutputStream(&GetOutputStream());
    inner_->SetErrorStream(&GetErrorStream());
    return inner_->ReportContext(context);
  }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.error_occurred) {
        ++errors_;
        std::fprintf(stderr, "twtcp-microbench: %s: %s\n", r.benchmark_name().c_str(),
                     r.error_message.c_str());
      }
    }
    inner_->ReportRuns(runs);
  }
  void Finalize() override { inner_->Finalize(); }
  [[nodiscard]] unsigned errors() const noexcept { return errors_; }

 private:
  std::unique_ptr<benchmark::BenchmarkReporter> inner_;
  unsigned errors_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  // rte_hash at 10M keys needs a few GiB of EAL memory; --no-huge backs it
  // with ordinary pages, so the figure is an upper bound on what it costs.
  std::string prefix = "twtcp-bench-" + std::to_string(getpid());
  std::vector<std::string> eal_args = {
      "twtcp-microbench", "--no-huge", "--no-pci",       "-m", "6144", "--file-prefix", prefix,
      "--log-level",      "error",     "--no-telemetry", "-l", "0"};
  // twtcp::dpdk::Eal also removes EAL's runtime files on exit (6 GB of -m leave a 75 MB
  // memseg array behind otherwise).
  twtcp::dpdk::Eal eal(eal_args);
  if (!eal.ok()) {
    std::fprintf(stderr, "twtcp-microbench: %s\n", eal.error().c_str());
    return 1;
  }
  if (rte_timer_subsystem_init() < 0) {
    std::fprintf(stderr, "twtcp-microbench: rte_timer_subsystem_init failed\n");
    return 1;
  }
  ErrorCountingReporter reporter(benchmark::CreateDefaultDisplayReporter());
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return reporter.errors() == 0 ? 0 : 1;
}
