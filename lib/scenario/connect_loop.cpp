// lib/scenario/connect_loop.cpp
#include "scenario/connect_loop.hpp"

#include <memory>

#include "scenario/common.hpp"
#include "scenario/stack_host.hpp"
#include "sim/link.hpp"
#include "sim/simulator.hpp"

namespace twtcp::scenario {
namespace {

// Forwards to a timeline until `budget` frames were recorded, then stays quiet.
class LimitedTap : public sim::FrameSink {
 public:
  LimitedTap(sim::Timeline* t, std::size_t budget) : timeline_(t), budget_(budget) {}
  void connect(sim::FrameSink& next) { next_ = &next; }
  void receive(int port, std::span<const std::uint8_t> f, std::uint64_t now) override {
    if (timeline_ != nullptr && budget_ > 0) {
      timeline_->record(now, f);
      --budget_;
    }
    next_->receive(port, f, now);
  }

 private:
  sim::Timeline* timeline_;
  std::size_t budget_;
  sim::FrameSink* next_ = nullptr;
};

}  // namespace

LoopResult run_connect_loop(const LoopSpec& spec) {
  sim::Simulator sim(spec.seed);
  // Hosts that have been up for a while: seconds-granular stamps (3.x reuse) then behave as
  // on a real machine instead of starting at second 0.
  StackHost client("client", spec.client, identity(spec.client_addr, 2), 1000 * kSec);
  StackHost server("server", spec.server, identity(spec.server_addr, 1), 2000 * kSec);
  sim::LinkParams lp;
  lp.delay_us = spec.one_way_delay_us;
  lp.queue_limit = 0;
  sim::Link c2s(sim, lp, spec.seed * 2, "c>s");
  sim::Link s2c(sim, lp, spec.seed * 2 + 1, "s>c");
  // Capture at the client: frames it sends pass a tap before the link; frames it receives
  // pass one after the link.
  LimitedTap tap_out(spec.timeline, spec.timeline_frames);
  LimitedTap tap_in(spec.timeline, spec.timeline_frames);
  tap_out.connect(c2s);
  c2s.connect(server);
  client.attach(StackHost::kPort, tap_out);
  server.attach(StackHost::kPort, s2c);
  s2c.connect(tap_in);
  tap_in.connect(client);
  sim.add_node(client);
  sim.add_node(server);

  LoopResult res;
  res.per_second.assign(spec.seconds, 0);
  const std::uint64_t end_us = spec.seconds * kSec;

  Callbacks srv;
  srv.on_peer_closed = [&](ConnId id) {
    if (spec.server_closes) server.stack().close(id);
  };
  server.act(0, [&](Stack& s) { s.listen(spec.server_port, srv); });

  // One connection at a time, like a blocking connect() in a loop.
  std::function<void(std::uint64_t)> next_connect;
  auto done_then_next = [&](std::uint64_t now, std::uint64_t gap) {
    sim.schedule(now + gap, [&](std::uint64_t t) { next_connect(t); });
  };
  // `pending`: a connect() is in flight. Only then does a close count as a failed connect
  // (a reset reaching an already-closed, orphaned connection is not the loop's business).
  bool pending = false;
  ConnectOptions copts;
  copts.callbacks.on_connected = [&](ConnId id) {
    pending = false;
    const std::uint64_t now = sim.now();
    if (now < end_us) {
      ++res.per_second[now / kSec];
      ++res.successes;
    }
    if (spec.close == ClientClose::kLinger0) {
      client.stack().close_linger0(id);
    } else {
      client.stack().close(id);
    }
    done_then_next(now, spec.loop_gap_us);
  };
  copts.callbacks.on_closed = [&](ConnId, CloseReason) {
    if (!pending) return;
    pending = false;
    ++res.failed;
    done_then_next(sim.now(), spec.loop_gap_us);
  };

  next_connect = [&](std::uint64_t now) {
    if (now >= end_us) return;
    const ConnectResult r = client.act(
        now, [&](Stack& s) { return s.connect(spec.server_addr, spec.server_port, copts); });
    if (r.ok()) {
      pending = true;
      return;
    }
    if (r.error == kEaddrnotavail) {
      ++res.eaddrnotavail;
    } else {
      ++res.failed;
    }
    done_then_next(now, spec.retry_gap_us);
  };
  sim.schedule(0, [&](std::uint64_t t) { next_connect(t); });
  sim.run_until(end_us);

  const StackCounters c = client.stack().counters();
  res.timewait_at_end = client.stack().timewait_count();
  res.TWRecycled = c.TWRecycled;
  res.TWKilled = c.TWKilled;
  res.TW = c.TW;
  res.TCPTimeWaitOverflow = c.TCPTimeWaitOverflow;
  res.TCPAbortOnData = c.TCPAbortOnData;
  res.OutRsts = c.OutRsts;
  res.client_counters_json = counters_json(client.stack());
  res.server_counters_json = counters_json(server.stack());
  return res;
}

}  // namespace twtcp::scenario
