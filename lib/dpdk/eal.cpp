#include "dpdk/eal.hpp"

#include <rte_eal.h>
#include <rte_errno.h>
#include <unistd.h>

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

Eal::~Eal() {
  if (!ok_) return;
  // EAL leaves its (by then empty) runtime directory behind; one per run adds up.
  const std::string runtime_dir = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  (void)rmdir(runtime_dir.c_str());
}

}  // namespace twtcp::dpdk
