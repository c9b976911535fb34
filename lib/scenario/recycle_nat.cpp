// lib/scenario/recycle_nat.cpp: seeds 000 and 002. A web server that closes first runs
// tw_recycle; two clients whose TCP timestamp clocks are unrelated (different uptimes) reach
// it through one MASQUERADE NAT, so to the server they are one host whose timestamps jump
// backwards. The server remembers the NAT's last timestamp when its TIME_WAIT starts; the
// client whose clock is behind then has every SYN dropped silently (PAWSPassive) until
// TCP_PAWS_MSL (60 s) has passed since that timestamp was stamped (SPEC §5.2, §5.3).
#include <string>

#include "scenario/common.hpp"
#include "scenario/scenarios.hpp"
#include "sim/link.hpp"
#include "sim/nat.hpp"
#include "sim/switch.hpp"

namespace twtcp::scenario {
namespace {
constexpr std::uint32_t kServer = ipv4(198, 18, 0, 1);
constexpr std::uint32_t kNatPublic = ipv4(198, 18, 0, 2);
constexpr std::uint32_t kC1 = ipv4(198, 18, 1, 2);
constexpr std::uint32_t kC2 = ipv4(198, 18, 2, 2);
constexpr std::uint16_t kHttp = 80;
constexpr std::uint64_t kC1Uptime = 50'000 * kSec;  // ~14 h
constexpr std::uint64_t kC2Uptime = 3'600 * kSec;   // 1 h: its TS clock is far behind c1's
constexpr std::uint64_t kC2Start = 1 * kSec;
constexpr std::uint64_t kGiveUp = 200 * kSec;
}  // namespace

Result run_recycle_nat(const Options& options) {
  Result res;
  std::string err;
  auto server_cfg = build_config("linux-3.10-recycle", options, 1, err);
  if (!server_cfg) return failure(err);
  // The clients are 3.x-era Linux hosts: timestamps are their uptime in ms (no offsets).
  Options client_opts;
  client_opts.seed = options.seed;
  auto c1_cfg = build_config("linux-3.10", client_opts, 2, err);
  auto c2_cfg = build_config("linux-3.10", client_opts, 3, err);
  if (!c1_cfg || !c2_cfg) return failure(err);

  sim::Simulator sim(options.seed);
  StackHost server("server", *server_cfg, identity(kServer, 1));
  StackHost c1("c1", *c1_cfg, identity(kC1, 11), kC1Uptime);
  StackHost c2("c2", *c2_cfg, identity(kC2, 12), kC2Uptime);
  sim::NatParams np;
  np.public_addr = kNatPublic;
  sim::Nat nat(np, options.seed);
  sim::Switch lan;
  sim::LinkParams lp;
  lp.delay_us = 250;
  sim::DuplexLink l1(sim, lp, options.seed * 8 + 1, "c1");
  sim::DuplexLink l2(sim, lp, options.seed * 8 + 2, "c2");
  sim::DuplexLink uplink(sim, lp, options.seed * 8 + 3, "lan");
  sim::DuplexLink wan(sim, lp, options.seed * 8 + 4, "wan");
  l1.connect(c1, StackHost::kPort, lan, 1);
  l2.connect(c2, StackHost::kPort, lan, 2);
  uplink.connect(lan, 0, nat, sim::Nat::kInside);
  wan.connect(nat, sim::Nat::kOutside, server, StackHost::kPort);
  lan.route(kC1, 1);
  lan.route(kC2, 2);
  lan.set_default(0);
  for (sim::Node* n :
       {static_cast<sim::Node*>(&c1), static_cast<sim::Node*>(&c2), static_cast<sim::Node*>(&lan),
        static_cast<sim::Node*>(&nat), static_cast<sim::Node*>(&server)}) {
    sim.add_node(*n);
  }
  server.capture(&res.timeline);  // tcpdump on the server: clients appear as the NAT's address

  serve_http_close_first(server, kHttp);
  Fetch f1, f2;
  sim.schedule(0, [&](std::uint64_t now) {
    res.timeline.note(now, "c1 (uptime 50000 s) fetches http://198.18.0.1/ through the NAT");
    start_fetch(c1, now, kServer, kHttp, f1);
  });
  sim.schedule(kC2Start, [&](std::uint64_t now) {
    res.timeline.note(now, "c2 (uptime 3600 s, same NAT) fetches http://198.18.0.1/");
    start_fetch(c2, now, kServer, kHttp, f2);
  });
  while (sim.now() < kGiveUp && !(f1.done() && f2.done()) && sim.step()) {
  }
  res.sim_time_us = sim.now();

  const StackCounters sc = server.stack().counters();
  const bool recycle = server_cfg->tcp_tw_recycle != 0;
  const std::uint64_t c2_wait =
      f2.connected_us ? *f2.connected_us - kC2Start : res.sim_time_us - kC2Start;
  const bool c1_ok = f1.finished_us.has_value();
  const bool c2_ok = f2.finished_us.has_value();
  std::string what = "c1 fetched in " + seconds_str(f1.finished_us.value_or(0)) + "; c2 ";
  if (c2_ok) {
    what += "connected after " + seconds_str(c2_wait);
  } else {
    what += "never connected (" + std::string(to_string(f2.failed.value_or(CloseReason::kNone))) +
            ") after " + seconds_str(c2_wait);
  }
  what += ", server PAWSPassive=" + std::to_string(sc.PAWSPassive);
  if (recycle) {
    // SPEC §5.2: dropped while the NAT's remembered timestamp is younger than 60 s.
    res.pass = c1_ok && c2_ok && sc.PAWSPassive > 0 && c2_wait >= 59 * kSec;
    res.verdict = what + (res.pass ? ": tw_recycle dropped the NATed client's SYNs for 60 s, as "
                                     "SPEC §5.3 predicts"
                                   : ": expected c2's SYNs dropped for ~60 s (SPEC §5.3)");
  } else {
    res.pass = c1_ok && c2_ok && sc.PAWSPassive == 0 && c2_wait < kSec;
    res.verdict =
        what + (res.pass ? ": without tw_recycle both NATed clients connect at once"
                         : ": expected both clients to connect at once without tw_recycle");
  }
  res.summary.push_back("server: " + std::string(recycle ? "tw_recycle on" : "tw_recycle off") +
                        ", TIME_WAIT entries now " +
                        std::to_string(server.stack().timewait_count()) +
                        ", PAWSPassive=" + std::to_string(sc.PAWSPassive) + ", NAT mappings " +
                        std::to_string(nat.counters().mappings_created));
  res.json.emplace_back("c2_wait_us", std::to_string(c2_wait));
  res.json.emplace_back("c2_connected", c2_ok ? "true" : "false");
  res.json.emplace_back("server", counters_json(server.stack()));
  res.json.emplace_back("c2", counters_json(c2.stack()));
  return res;
}

}  // namespace twtcp::scenario
