// lib/scenario/lossy_transfer.cpp: bulk data both ways at once over one connection through
// links that lose, duplicate and reorder frames; every byte is checked against the pattern
// the sender wrote. The receive side never buffers more than the stack hands it: the pattern
// is a keyed function of the stream offset, so 100 MB each way needs no 100 MB arrays.
#include <array>
#include <charconv>
#include <string>

#include "scenario/common.hpp"
#include "scenario/scenarios.hpp"
#include "sim/link.hpp"

namespace twtcp::scenario {
namespace {
constexpr std::uint32_t kServer = ipv4(198, 18, 0, 1);
constexpr std::uint32_t kClient = ipv4(198, 18, 0, 2);
constexpr std::uint16_t kPort = 9000;

// Byte `i` of direction `dir`'s stream: cheap, position-dependent, not periodic in 2^k.
std::uint8_t pattern(std::uint64_t i, unsigned dir) {
  std::uint64_t x = (i >> 3) * 0x9e3779b97f4a7c15ULL + dir * 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 29;
  return static_cast<std::uint8_t>(x >> (8 * (i & 7)));
}

struct Direction {
  unsigned id = 0;
  std::uint64_t total = 0;
  std::uint64_t sent = 0, received = 0, corrupt_at = UINT64_MAX;
  std::uint64_t done_us = 0;
  bool finished() const { return received == total; }
};

void pump(Stack& s, ConnId id, Direction& d) {
  std::array<std::uint8_t, 16384> buf;
  while (d.sent < d.total) {
    const std::size_t n = std::min<std::uint64_t>(buf.size(), d.total - d.sent);
    for (std::size_t k = 0; k < n; ++k) buf[k] = pattern(d.sent + k, d.id);
    const std::size_t took = s.send(id, std::span(buf.data(), n));
    d.sent += took;
    if (took < n) break;
  }
}

void drain(Stack& s, ConnId id, Direction& d, std::uint64_t now) {
  std::array<std::uint8_t, 16384> buf;
  while (std::size_t n = s.recv(id, buf)) {
    for (std::size_t k = 0; k < n; ++k) {
      if (buf[k] != pattern(d.received + k, d.id) && d.corrupt_at == UINT64_MAX) {
        d.corrupt_at = d.received + k;
      }
    }
    d.received += n;
    if (d.finished() && d.done_us == 0) d.done_us = now;
  }
}

bool param_u64(const Options& o, std::string_view key, std::uint64_t& v, std::string& err) {
  for (const auto& [k, val] : o.params) {
    if (k != key) continue;
    const auto [p, ec] = std::from_chars(val.data(), val.data() + val.size(), v);
    if (ec != std::errc{} || p != val.data() + val.size()) {
      err = "--param " + std::string(key) + "=" + val + ": not an integer";
      return false;
    }
  }
  return true;
}
bool param_pct(const Options& o, std::string_view key, double& v, std::string& err) {
  for (const auto& [k, val] : o.params) {
    if (k != key) continue;
    try {
      std::size_t used = 0;
      v = std::stod(val, &used) / 100.0;
      if (used != val.size() || v < 0 || v > 0.5) throw std::invalid_argument(val);
    } catch (const std::exception&) {
      err = "--param " + std::string(key) + "=" + val + ": a percentage 0..50";
      return false;
    }
  }
  return true;
}
}  // namespace

Result run_lossy_transfer(const Options& options) {
  std::string err;
  for (const auto& [k, v] : options.params) {
    if (k != "bytes" && k != "loss" && k != "dup" && k != "reorder" && k != "delay_us") {
      return failure("--param " + k + ": lossy-transfer knows bytes, loss, dup, reorder, delay_us");
    }
  }
  std::uint64_t bytes = 10'000'000, delay_us = 1000;
  double loss = 0.01, dup = 0.01, reorder = 0.01;
  if (!param_u64(options, "bytes", bytes, err) || !param_u64(options, "delay_us", delay_us, err) ||
      !param_pct(options, "loss", loss, err) || !param_pct(options, "dup", dup, err) ||
      !param_pct(options, "reorder", reorder, err)) {
    return failure(err);
  }
  if (bytes == 0 || bytes > (1ULL << 40)) return failure("--param bytes: 1..2^40");
  if (delay_us > 10'000'000) return failure("--param delay_us: at most 10 s");
  auto server_cfg = build_config("linux-6", options, 1, err);
  auto client_cfg = build_config("linux-6", options, 2, err);
  if (!server_cfg || !client_cfg) return failure(err);

  Result res;
  sim::Simulator sim(options.seed);
  StackHost server("server", *server_cfg, identity(kServer, 1), 500 * kSec);
  StackHost client("client", *client_cfg, identity(kClient, 2), 900 * kSec);
  sim::LinkParams lp;
  lp.delay_us = delay_us;
  lp.loss = loss;
  lp.duplicate = dup;
  lp.reorder = reorder;
  lp.reorder_extra_us = delay_us + 500;
  lp.queue_limit = 0;
  sim::DuplexLink wire(sim, lp, options.seed * 16 + 5, "wire");
  wire.connect(client, StackHost::kPort, server, StackHost::kPort);
  sim.add_node(client);
  sim.add_node(server);

  Direction up{0, bytes}, down{1, bytes};  // up: client -> server
  bool closed_badly = false;
  std::string why_closed;  // "server: reset at 12.3 s", for the verdict
  const auto note_close = [&](const char* who, CloseReason why, std::uint64_t at) {
    if (why == CloseReason::kNormal) return;
    closed_badly = true;
    if (why_closed.empty()) {
      why_closed = std::string(who) + " connection closed (" + std::string(to_string(why)) +
                   ") at " + seconds_str(at) + " of virtual time";
    }
  };
  Callbacks scb;
  scb.on_accepted = [&](ConnId id) { pump(server.stack(), id, down); };
  scb.on_writable = [&](ConnId id) { pump(server.stack(), id, down); };
  scb.on_readable = [&](ConnId id) { drain(server.stack(), id, up, server.last_time()); };
  scb.on_closed = [&](ConnId, CloseReason why) { note_close("server", why, server.last_time()); };
  server.act(0, [&](Stack& s) { s.listen(kPort, scb); });
  ConnectOptions co;
  co.callbacks.on_connected = [&](ConnId id) { pump(client.stack(), id, up); };
  co.callbacks.on_writable = [&](ConnId id) { pump(client.stack(), id, up); };
  co.callbacks.on_readable = [&](ConnId id) {
    drain(client.stack(), id, down, client.last_time());
  };
  co.callbacks.on_closed = [&](ConnId, CloseReason why) {
    note_close("client", why, client.last_time());
  };
  sim.schedule(0, [&](std::uint64_t now) {
    client.act(now, [&](Stack& s) { return s.connect(kServer, kPort, co); });
  });
  // Bounded: at least 250 kB/s of virtual time or give up (5 % loss each way runs at ~1 MB/s).
  const std::uint64_t give_up = 30 * kSec + 4 * bytes;
  bool events_left = true;
  while (!(up.finished() && down.finished()) && !closed_badly && sim.now() < give_up &&
         (events_left = sim.step())) {
  }
  res.sim_time_us = sim.now();
  const StackCounters cc = client.stack().counters(), sc = server.stack().counters();
  const bool intact = up.finished() && down.finished() && up.corrupt_at == UINT64_MAX &&
                      down.corrupt_at == UINT64_MAX;
  auto mbps = [](const Direction& d) {
    return d.done_us ? static_cast<double>(d.total) * 8 / static_cast<double>(d.done_us) : 0.0;
  };
  char line[256];
  std::snprintf(line, sizeof line,
                "%llu bytes each way, loss %.1f%% dup %.1f%% reorder %.1f%%, one-way delay %llu us",
                static_cast<unsigned long long>(bytes), loss * 100, dup * 100, reorder * 100,
                static_cast<unsigned long long>(delay_us));
  res.summary.emplace_back(line);
  for (const auto* d : {&up, &down}) {
    std::snprintf(line, sizeof line,
                  "%s: %llu of %llu bytes received%s, done at %s of virtual time (%.1f Mbit/s)",
                  d == &up ? "client->server" : "server->client",
                  static_cast<unsigned long long>(d->received),
                  static_cast<unsigned long long>(d->total),
                  d->corrupt_at == UINT64_MAX
                      ? ", byte-exact"
                      : (", FIRST BAD BYTE AT " + std::to_string(d->corrupt_at)).c_str(),
                  seconds_str(d->done_us).c_str(), mbps(*d));
    res.summary.emplace_back(line);
  }
  res.summary.push_back(
      "retransmitted segments: client " + std::to_string(cc.RetransSegs) + ", server " +
      std::to_string(sc.RetransSegs) + "; frames lost " +
      std::to_string(wire.ab.counters().dropped_loss + wire.ba.counters().dropped_loss) +
      ", duplicated " +
      std::to_string(wire.ab.counters().duplicated + wire.ba.counters().duplicated) +
      ", reordered " + std::to_string(wire.ab.counters().reordered + wire.ba.counters().reordered));
  res.pass = intact && !closed_badly;
  if (intact) {
    res.verdict = "both directions arrived byte-exact";
  } else if (!why_closed.empty()) {
    res.verdict = "transfer incomplete: " + why_closed;
  } else if (!events_left) {
    res.verdict = "transfer incomplete: stalled (nothing left to happen) at " +
                  seconds_str(sim.now()) + " of virtual time";
  } else if (sim.now() >= give_up) {
    res.verdict = "transfer incomplete: gave up at " + seconds_str(sim.now()) +
                  " of virtual time (less than 250 kB/s)";
  } else {
    res.verdict = "transfer corrupt";
  }
  res.json.emplace_back("bytes", std::to_string(bytes));
  res.json.emplace_back("intact", intact ? "true" : "false");
  res.json.emplace_back("up_done_us", std::to_string(up.done_us));
  res.json.emplace_back("down_done_us", std::to_string(down.done_us));
  res.json.emplace_back("client", counters_json(client.stack()));
  res.json.emplace_back("server", counters_json(server.stack()));
  return res;
}

}  // namespace twtcp::scenario
