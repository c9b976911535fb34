// lib/scenario/reuse_no_timestamps.cpp: SPEC R7 / E3. tcp_tw_reuse only takes over a
// TIME_WAIT entry whose connection used timestamps (ts_recent_stamp != 0): PAWS is what makes
// the reuse safe. The same 10-port connect loop runs with timestamps on, then off.
#include <string>

#include "scenario/common.hpp"
#include "scenario/connect_loop.hpp"
#include "scenario/scenarios.hpp"

namespace twtcp::scenario {

Result run_reuse_no_timestamps(const Options& options) {
  Result res;
  std::string err;
  LoopResult runs[2];
  for (int ts = 1; ts >= 0; --ts) {
    Options o = options;
    o.sets.insert(o.sets.begin(),
                  {"net.ipv4.tcp_tw_reuse=1", "net.ipv4.ip_local_port_range=40000 40009"});
    o.sets.push_back("net.ipv4.tcp_timestamps=" + std::to_string(ts));
    auto cfg = build_config("linux-6", o, 11, err);
    if (!cfg) return failure(err);
    LoopSpec s;
    s.seed = options.seed;
    s.client = *cfg;
    s.server = small_tables(Config{});
    s.server.random_seed = options.seed * 7 + 1;
    s.server.tcp_timestamps = ts;
    s.client_addr = ipv4(198, 18, 0, 2);
    s.server_addr = ipv4(198, 18, 0, 1);
    if (ts == 0) {
      s.timeline = &res.timeline;
      s.timeline_frames = 30;
    }
    runs[ts] = run_connect_loop(s);
    const LoopResult& r = runs[ts];
    res.summary.push_back(std::string(ts ? "timestamps on:  " : "timestamps off: ") +
                          join(r.per_second) + " (total " + std::to_string(r.successes) +
                          ", EADDRNOTAVAIL " + std::to_string(r.eaddrnotavail) + ", TWRecycled " +
                          std::to_string(r.TWRecycled) + ")");
    res.json.emplace_back(ts ? "with_timestamps" : "without_timestamps",
                          "{\"per_second\": " + json_array(r.per_second) +
                              ", \"successes\": " + std::to_string(r.successes) +
                              ", \"TWRecycled\": " + std::to_string(r.TWRecycled) + "}");
  }
  const LoopResult& on = runs[1];
  const LoopResult& off = runs[0];
  res.pass = on.successes > 10 && on.TWRecycled > 0 && off.successes == 10 && off.TWRecycled == 0 &&
             off.eaddrnotavail > 0;
  res.verdict = "tw_reuse=1 with timestamps: " + std::to_string(on.successes) +
                " connects (TWRecycled " + std::to_string(on.TWRecycled) +
                "); without: " + std::to_string(off.successes) + " then EADDRNOTAVAIL" +
                (res.pass ? ": no timestamps, no reuse (SPEC R7/E3)"
                          : ": expected reuse only with timestamps (SPEC R7/E3)");
  return res;
}

}  // namespace twtcp::scenario
