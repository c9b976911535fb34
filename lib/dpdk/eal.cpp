#include "dpdk/eal.hpp"

#include <rte_eal.h>
#include <rte_errno.h>
#include <unistd.h>

#include <filesystem>
#include <string_view>

namespace twtcp::dpdk {

SplitArgs split_args(int argc, char** argv, const std::vector<std::string>& default_eal) {
  SplitArgs out;
  out.eal.emplace_back(argc > 0 ? argv[0] : "twtcp");
  int dashes = -1;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--") {
      dashes = i;
      break;
    }
  }
  if (dashes < 0) {
    out.eal.insert(out.eal.end(), default_eal.begin(), default_eal.end());
    for (int i = 1; i < argc; ++i) out.program.emplace_back(argv[i]);
    return out;
  }
  out.eal_from_user = true;
  for (int i = 1; i < dashes; ++i) out.eal.emplace_back(argv[i]);
  for (int i = dashes + 1; i < argc; ++i) out.program.emplace_back(argv[i]);
  return out;
}

Eal::Eal(std::vector<std::string> args) : args_(std::move(args)) {
  for (auto& a : args_) argv_.push_back(a.data());
  argv_.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(args_.size()), argv_.data()) < 0) {
    error_ = std::string("rte_eal_init failed: ") + rte_strerror(rte_errno) +
             (rte_errno == EACCES ? " (run as root?)" : "");
    return;
  }
  ok_ = true;
}

namespace {

// What a primary process leaves in its runtime directory for secondaries to attach to: the
// shared config, the memory-segment arrays (without hugepages, fbarray_nohugemem is as big as
// -m: 6-75 MB per run), the multi-process and telemetry sockets. Nobody attaches to a process
// that has exited, so they are removed with it; anything else found there is left alone.
bool is_eal_runtime_file(std::string_view name) {
  return name == "config" || name == "hugepage_info" || name.starts_with("fbarray_") ||
         name.starts_with("mp_socket") || name.starts_with("dpdk_telemetry");
}

}  // namespace

Eal::~Eal() {
  if (!ok_) return;
  const std::string runtime_dir = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(runtime_dir, ec)) {
    if (is_eal_runtime_file(entry.path().filename().native())) {
      std::filesystem::remove(entry.path(), ec);
    }
  }
  (void)rmdir(runtime_dir.c_str());  // fails, harmlessly, if something else is still there
}

}  // namespace twtcp::dpdk
