// app/common/telemetry.cpp
#include "common/telemetry.hpp"

#include <rte_telemetry.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "common/cli.hpp"

namespace twtcp::app {
namespace {

// rte_telemetry callbacks carry no user pointer. The mutex keeps the object alive while a
// callback reads it (the destructor takes it too).
Telemetry* g_telemetry = nullptr;
std::mutex g_registry_mu;

int stats_cb(const char*, const char*, rte_tel_data* d) {
  std::lock_guard<std::mutex> lock(g_registry_mu);
  if (g_telemetry == nullptr) return -1;
  const Telemetry::Snapshot snap = g_telemetry->merged();
  rte_tel_data_start_dict(d);
  for (const auto& [group, rows] : snap.groups) {
    rte_tel_data* g = rte_tel_data_alloc();
    if (g == nullptr) return -1;
    rte_tel_data_start_dict(g);
    for (const auto& [name, v] : rows) rte_tel_data_add_dict_u64(g, name.c_str(), v);
    rte_tel_data_add_dict_container(d, group.c_str(), g, 0);
  }
  return 0;
}

int config_cb(const char*, const char*, rte_tel_data* d) {
  std::lock_guard<std::mutex> lock(g_registry_mu);
  if (g_telemetry == nullptr) return -1;
  // Telemetry names allow no dots, so the keys travel as "key = value" strings.
  rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
  for (const auto& [k, v] : g_telemetry->config()) {
    rte_tel_data_add_array_string(d, (k + " = " + v).c_str());
  }
  return 0;
}

int timewait_cb(const char*, const char* params, rte_tel_data* d) {
  std::size_t want = 100;
  if (params != nullptr && *params != '\0') {
    std::uint32_t n = 0;
    if (!parse_uint<std::uint32_t>(params, 0, Telemetry::kMaxTimewait, n)) return -1;
    want = n;
  }
  std::lock_guard<std::mutex> lock(g_registry_mu);
  if (g_telemetry == nullptr) return -1;
  const Telemetry::Snapshot snap = g_telemetry->merged();
  rte_tel_data_start_dict(d);
  rte_tel_data_add_dict_u64(d, "count", snap.timewait_total);
  // One string per entry (telemetry nests containers one level deep only), like ss prints:
  // "LOCAL REMOTE SUBSTATE expires_in_ms=N ts_recent=N timestamps=0|1".
  rte_tel_data* arr = rte_tel_data_alloc();
  if (arr == nullptr) return -1;
  rte_tel_data_start_array(arr, RTE_TEL_STRING_VAL);
  std::size_t shown = 0;
  char line[RTE_TEL_MAX_STRING_LEN];
  for (const TimeWaitInfo& t : snap.timewait) {
    if (shown == want) break;
    std::snprintf(line, sizeof line, "%s:%u %s:%u %s expires_in_ms=%llu ts_recent=%u timestamps=%d",
                  ipv4_str(t.local_addr).c_str(), t.local_port, ipv4_str(t.remote_addr).c_str(),
                  t.remote_port, t.fin_wait2 ? "FIN_WAIT2" : "TIME_WAIT",
                  static_cast<unsigned long long>(t.expires_in_us / 1000), t.ts_recent,
                  t.has_timestamps ? 1 : 0);
    rte_tel_data_add_array_string(arr, line);
    ++shown;
  }
  rte_tel_data_add_dict_u64(d, "shown", shown);
  rte_tel_data_add_dict_container(d, "entries", arr, 0);
  return 0;
}

}  // namespace

Telemetry::Telemetry(const Config& cfg, std::size_t workers) : slots_(workers ? workers : 1) {
  std::istringstream in(format(cfg));
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto eq = line.find(" = ");
    if (eq == std::string::npos) continue;
    config_.emplace_back(line.substr(0, eq), line.substr(eq + 3));
  }
  {
    std::lock_guard<std::mutex> lock(g_registry_mu);
    g_telemetry = this;
  }
  rte_telemetry_register_cmd("/twtcp/stats", stats_cb,
                             "twtcp counters by Linux MIB name: Tcp, TcpExt, twtcp");
  rte_telemetry_register_cmd("/twtcp/config", config_cb, "twtcp configuration, key = value");
  rte_telemetry_register_cmd("/twtcp/timewait", timewait_cb,
                             "TIME_WAIT entries (param: how many, default 100, max 500)");
}

Telemetry::~Telemetry() {
  std::lock_guard<std::mutex> lock(g_registry_mu);
  g_telemetry = nullptr;
}

void Telemetry::publish(const Stack& stack, std::uint64_t now_us,
                        const std::vector<std::pair<std::string, std::uint64_t>>& extra,
                        std::size_t w) {
  Slot& slot = slots_[w];
  slot.next_us = now_us + 100'000;
  Snapshot& scratch = slot.scratch;
  // Build outside the lock; swap in under it.
  scratch.groups.clear();
  stack.counters().for_each([&](std::string_view g, std::string_view name, std::uint64_t v) {
    if (scratch.groups.empty() || scratch.groups.back().first != g) {
      scratch.groups.emplace_back(std::string(g),
                                  std::vector<std::pair<std::string, std::uint64_t>>{});
    }
    scratch.groups.back().second.emplace_back(std::string(name), v);
  });
  if (scratch.groups.empty() || scratch.groups.back().first != "twtcp") {
    scratch.groups.emplace_back("twtcp", std::vector<std::pair<std::string, std::uint64_t>>{});
  }
  for (const auto& [k, v] : extra) scratch.groups.back().second.emplace_back(k, v);
  scratch.timewait.clear();
  stack.for_each_timewait([&](const TimeWaitInfo& t) { scratch.timewait.push_back(t); },
                          kMaxTimewait);
  scratch.timewait_total = stack.timewait_count();
  scratch.taken_at_us = now_us;
  std::unique_lock<std::mutex> lock(slot.mu, std::try_to_lock);
  if (!lock.owns_lock()) return;  // a reader is busy: next round
  std::swap(slot.snap, scratch);
}

Telemetry::Snapshot Telemetry::merged() const {
  Snapshot out;
  for (const Slot& slot : slots_) {
    std::lock_guard<std::mutex> lock(slot.mu);
    const Snapshot& s = slot.snap;
    if (out.groups.empty()) {
      out.groups = s.groups;
    } else {
      // Same code publishes every slot, so groups and rows come in the same order; a row
      // missing from the first slot is appended.
      for (const auto& group : s.groups) {
        auto g = std::find_if(out.groups.begin(), out.groups.end(),
                              [&](const auto& x) { return x.first == group.first; });
        if (g == out.groups.end()) {
          out.groups.push_back(group);
          continue;
        }
        for (const auto& row : group.second) {
          auto r = std::find_if(g->second.begin(), g->second.end(),
                                [&](const auto& x) { return x.first == row.first; });
          if (r == g->second.end()) {
            g->second.push_back(row);
          } else {
            r->second += row.second;
          }
        }
      }
    }
    for (const TimeWaitInfo& t : s.timewait) {
      if (out.timewait.size() < kMaxTimewait) out.timewait.push_back(t);
    }
    out.timewait_total += s.timewait_total;
    out.taken_at_us = std::max(out.taken_at_us, s.taken_at_us);
  }
  return out;
}

}  // namespace twtcp::app
