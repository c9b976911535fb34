// lib/scenario/syn_in_timewait.cpp: seed 003. What a SYN for the same 4-tuple does to the
// server's TIME_WAIT entry (SPEC §3.3). A web server closes first, so it holds TIME_WAIT.
//  1. The client comes back on the same local port a moment later: its SYN is newer (higher
//     sequence number and timestamp), the server reopens the entry and answers with
//     ISN = the old snd_nxt + 65537.
//  2. The client reboots (its ISN and timestamp clocks restart 95 s behind) and connects
//     on the same port again: its SYN is older, the server answers with the old ACK, the
//     client's TCP resets that unexpected ACK, and the RST kills the entry when
//     tcp_rfc1337 = 0 (TIME-WAIT assassination) but not when it is 1. The client's retried
//     SYN then succeeds; with rfc1337 = 1 each retry meets the old ACK again, each re-arms the
//     TIME_WAIT, and the connect fails after tcp_syn_retries.
#include <string>

#include "scenario/common.hpp"
#include "scenario/scenarios.hpp"
#include "sim/link.hpp"
#include "wire/segment.hpp"

namespace twtcp::scenario {
namespace {
constexpr std::uint32_t kServer = ipv4(198, 18, 0, 1);
constexpr std::uint32_t kClient = ipv4(198, 18, 1, 2);
constexpr std::uint16_t kHttp = 80;
constexpr std::uint16_t kClientPort = 40000;
constexpr std::uint64_t kUptime = 100 * kSec;
constexpr std::uint64_t kRebootedUptime = 10 * kSec;
constexpr std::uint64_t kSecondFetch = 2 * kSec;
constexpr std::uint64_t kReboot = 5 * kSec;
constexpr std::uint64_t kGiveUp = 200 * kSec;

class NullSink : public sim::FrameSink {
 public:
  void receive(int, std::span<const std::uint8_t>, std::uint64_t) override {}
};
}  // namespace

Result run_syn_in_timewait(const Options& options) {
  Result res;
  std::string err;
  auto server_cfg = build_config("linux-6", options, 1, err);
  if (!server_cfg) return failure(err);
  // The client: linux-6 with one timestamp clock per host (tcp_timestamps=2, as kernels
  // before 4.10) so "older" and "newer" follow its uptime; no timestamps if the server has
  // none.
  Options copts;
  copts.seed = options.seed;
  auto client_cfg = build_config("linux-6", copts, 2, err);
  if (!client_cfg) return failure(err);
  client_cfg->tcp_timestamps = server_cfg->tcp_timestamps == 0 ? 0 : 2;

  sim::Simulator sim(options.seed);
  StackHost server("server", *server_cfg, identity(kServer, 1));
  StackHost client("client", *client_cfg, identity(kClient, 2), kUptime);
  // Same secrets (same random_seed), uptime restarted: both clocks are 95 s behind.
  StackHost rebooted("client", *client_cfg, identity(kClient, 2), kRebootedUptime - kReboot);
  sim::LinkParams lp;
  lp.delay_us = 500;
  sim::DuplexLink wire(sim, lp, options.seed * 4 + 1, "wire");
  wire.connect(client, StackHost::kPort, server, StackHost::kPort);
  NullSink unplugged;
  rebooted.attach(StackHost::kPort, unplugged);
  sim.add_node(client);
  sim.add_node(rebooted);
  sim.add_node(server);
  server.capture(&res.timeline);

  // What the server sends on the story's 4-tuple: its snd_nxt, its SYN-ACK ISNs, and how
  // it answers the rebooted client's SYNs.
  std::uint32_t server_snd_nxt = 0;
  std::uint32_t expected_isn = 0, reopen_isn = 0;
  bool rebooted_phase = false;
  int syns_after_reboot = 0, old_acks = 0, rsts_from_client = 0;
  Fetch f1, f2, f3;
  server.observe([&](bool out, std::span<const std::uint8_t> f, std::uint64_t) {
    const auto v = wire::parse_segment(f);
    if (!v) return;
    const bool syn = v->has(wire::tcp_flags::kSyn), ack = v->has(wire::tcp_flags::kAck);
    if (out) {
      if (syn && ack && !rebooted_phase && expected_isn != 0 && reopen_isn == 0) {
        reopen_isn = v->seq;
      }
      // The TIME_WAIT's answer to the rebooted client's SYN: a bare ACK before it connects.
      if (!syn && ack && rebooted_phase && !f3.connected_us && v->payload.empty() &&
          !v->has(wire::tcp_flags::kRst)) {
        ++old_acks;
      }
      if (!syn) server_snd_nxt = v->end_seq();
    } else {
      if (syn && rebooted_phase) ++syns_after_reboot;
      if (v->has(wire::tcp_flags::kRst) && rebooted_phase) ++rsts_from_client;
    }
  });

  serve_http_close_first(server, kHttp);
  sim.schedule(0, [&](std::uint64_t now) {
    res.timeline.note(now, "client fetches from port 40000; the server closes first");
    start_fetch(client, now, kServer, kHttp, f1, kClientPort);
  });
  sim.schedule(kSecondFetch, [&](std::uint64_t now) {
    expected_isn = server_snd_nxt + 65537;
    res.timeline.note(now, "server holds TIME_WAIT (snd_nxt " + std::to_string(server_snd_nxt) +
                               "); the client connects from port 40000 again: a newer SYN");
    start_fetch(client, now, kServer, kHttp, f2, kClientPort);
  });
  sim.schedule(kReboot, [&](std::uint64_t now) {
    rebooted_phase = true;
    wire.ab.connect(server, StackHost::kPort);
    rebooted.attach(StackHost::kPort, wire.ab);
    wire.ba.connect(rebooted, StackHost::kPort);
    client.attach(StackHost::kPort, unplugged);
    res.timeline.note(now,
                      "the client reboots (clocks 95 s behind) and connects from port 40000: an "
                      "older SYN meets the server's TIME_WAIT");
    start_fetch(rebooted, now, kServer, kHttp, f3, kClientPort);
  });
  while (sim.now() < kGiveUp && !(sim.now() > kReboot && f3.done()) && sim.step()) {
  }
  res.sim_time_us = sim.now();

  const StackCounters sc = server.stack().counters();
  const bool rfc1337 = server_cfg->tcp_rfc1337 != 0;
  const bool reopened = f2.finished_us && reopen_isn == expected_isn && expected_isn != 0;
  std::string what = "newer SYN: ";
  what += reopened ? "TIME_WAIT reopened, ISN = old snd_nxt + 65537" : "NOT reopened as expected";
  what += "; older SYN: " + std::to_string(old_acks) + " old ACK(s), " +
          std::to_string(rsts_from_client) + " RST(s) from the client, ";
  const std::uint64_t f3_wait = (f3.connected_us ? *f3.connected_us : res.sim_time_us) - kReboot;
  if (f3.connected_us) {
    what += "connected after " + seconds_str(f3_wait);
  } else {
    what += "never connected (" + std::string(to_string(f3.failed.value_or(CloseReason::kNone))) +
            " after " + std::to_string(syns_after_reboot) + " SYNs)";
  }
  if (!rfc1337) {
    res.pass =
        reopened && old_acks >= 1 && rsts_from_client >= 1 && f3.finished_us && f3_wait < 3 * kSec;
    res.verdict = what + (res.pass ? ": the RST assassinated TIME_WAIT (tcp_rfc1337=0)"
                                   : ": expected the RST to kill TIME_WAIT (tcp_rfc1337=0)");
  } else {
    res.pass = reopened && old_acks >= 2 && !f3.connected_us && f3.failed == CloseReason::kTimeout;
    res.verdict = what + (res.pass ? ": tcp_rfc1337=1 kept TIME_WAIT against the RSTs"
                                   : ": expected TIME_WAIT to survive every RST (tcp_rfc1337=1)");
  }
  res.summary.push_back(
      "server TcpExt: TW=" + std::to_string(sc.TW) + " TWKilled=" + std::to_string(sc.TWKilled) +
      " PAWSEstab=" + std::to_string(sc.PAWSEstab) +
      " PAWSTimewait=" + std::to_string(sc.PAWSTimewait) + ", TIME_WAIT entries now " +
      std::to_string(server.stack().timewait_count()));
  res.json.emplace_back("reopened", reopened ? "true" : "false");
  res.json.emplace_back("old_acks", std::to_string(old_acks));
  res.json.emplace_back("client_rsts", std::to_string(rsts_from_client));
  res.json.emplace_back("rebooted_connected", f3.connected_us ? "true" : "false");
  res.json.emplace_back("server", counters_json(server.stack()));
  return res;
}

}  // namespace twtcp::scenario
