// lib/dpdk/eal.hpp: DPDK's EAL for twtcp programs. Arguments follow testpmd's convention:
// `program [EAL args] -- [program args]`; without "--" every argument is the program's and
// EAL gets the program's defaults.
#pragma once

#include <string>
#include <vector>

namespace twtcp::dpdk {

struct SplitArgs {
  std::vector<std::string> eal;      // argv[0] first, then the EAL arguments
  std::vector<std::string> program;  // the program's own arguments (without argv[0])
  bool eal_from_user = false;        // true if the command line had "--"
};

// Splits argv at the first "--". Without one, `eal` = argv[0] + `default_eal`.
[[nodiscard]] SplitArgs split_args(int argc, char** argv,
                                   const std::vector<std::string>& default_eal);

// EAL for the lifetime of this object (rte_eal_init, then rte_eal_cleanup). One per process:
// EAL cannot be initialised twice.
class Eal {
 public:
  explicit Eal(std::vector<std::string> args);
  ~Eal();
  Eal(const Eal&) = delete;
  Eal& operator=(const Eal&) = delete;

  [[nodiscard]] bool ok() const noexcept { return ok_; }
  // One line when !ok(), e.g. "rte_eal_init failed: Permission denied (run as root?)".
  [[nodiscard]] const std::string& error() const noexcept { return error_; }

 private:
  std::vector<std::string> args_;  // rte_eal_init may keep pointers into argv
  std::vector<char*> argv_;
  bool ok_ = false;
  std::string error_;
};

}  // namespace twtcp::dpdk
