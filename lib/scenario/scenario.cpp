// lib/scenario/scenario.cpp: the registry of stories and their JSON form.
#include "scenario/scenario.hpp"

#include "scenario/common.hpp"
#include "scenario/scenarios.hpp"

namespace twtcp::scenario {
namespace {
struct Entry {
  Info info;
  Result (*run)(const Options&);
};

const std::vector<Entry>& entries() {
  static const std::vector<Entry> all = {
      {{"recycle-nat", "linux-3.10-recycle",
        "seeds 000/002: tw_recycle drops the SYNs of a NATed client whose timestamp clock is "
        "behind, for 60 s"},
       run_recycle_nat},
      {{"port-exhaustion", "linux-6 + SPEC §9 settings, then every preset",
        "seed 001 / SPEC §9: 10 local ports, client closes first, connects per second"},
       run_port_exhaustion},
      {{"syn-in-timewait", "linux-6",
        "seed 003: a newer SYN reopens TIME_WAIT; an older one gets the old ACK, and the "
        "client's RST kills the entry unless tcp_rfc1337=1"},
       run_syn_in_timewait},
      {{"reuse-no-timestamps", "linux-6 + tcp_tw_reuse=1",
        "SPEC R7/E3: tw_reuse takes over TIME_WAIT only when the connection used timestamps"},
       run_reuse_no_timestamps},
      {{"lossy-transfer", "linux-6 on both ends",
        "bulk data both ways over links with 1% loss, duplication and reordering, checked byte "
        "by byte (--param bytes=N loss=% dup=% reorder=% delay_us=N)"},
       run_lossy_transfer},
      {{"syn-flood", "linux-6 + tcp_max_syn_backlog=128, for tcp_syncookies 0, 1 and 2",
        "issue 6: 2000 spoofed SYNs per ms for 50 ms while a client fetches every ms; SYN "
        "cookies keep it connecting with the server's state bounded by the backlog"},
       run_syn_flood},
  };
  return all;
}
}  // namespace

const std::vector<Info>& list() {
  static const std::vector<Info> infos = [] {
    std::vector<Info> v;
    for (const Entry& e : entries()) v.push_back(e.info);
    return v;
  }();
  return infos;
}

Result run(std::string_view name, const Options& options) {
  for (const Entry& e : entries()) {
    if (e.info.name != name) continue;
    if (!options.params.empty() && name != "lossy-transfer") {
      return failure("--param: scenario " + std::string(name) + " takes no parameters");
    }
    return e.run(options);
  }
  std::string known;
  for (const Entry& e : entries()) known += (known.empty() ? "" : ", ") + std::string(e.info.name);
  return failure("unknown scenario '" + std::string(name) + "' (known: " + known + ")");
}

std::string to_json(std::string_view name, const Result& r) {
  std::string o = "{\"scenario\": " + json_string(name) +
                  ", \"pass\": " + (r.pass ? "true" : "false") +
                  ", \"verdict\": " + json_string(r.verdict) +
                  ", \"sim_time_us\": " + std::to_string(r.sim_time_us);
  for (const auto& [k, v] : r.json) o += ", " + json_string(k) + ": " + v;
  return o + "}";
}

}  // namespace twtcp::scenario
