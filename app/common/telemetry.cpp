// app/common/telemetry.cpp
#include "common/telemetry.hpp"

#include <rte_telemetry.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "common/cli.hpp"

namespace twtcp::app {
namespace {

Telemetry* g_telemetry = nullptr;  // rte_telemetry callbacks carry no user pointer

int stats_cb(const char*, const char*, rte_tel_data* d) {
  if (g_telemetry == nullptr) return -1;
  std::lock_guard<std::mutex> lock(g_telemetry->mu);
  rte_tel_data_start_dict(d);
  for (const auto& [group, rows] : g_telemetry->snap.groups) {
    rte_tel_data* g = rte_tel_data_alloc();
    if (g == nullptr) return -1;
    rte_tel_data_start_dict(g);
    for (const auto& [name, v] : rows) rte_tel_data_add_dict_u64(g, name.c_str(), v);
    rte_tel_data_add_dict_container(d, group.c_str(), g, 0);
  }
  return 0;
}

int config_cb(const char*, const char*, rte_tel_data* d) {
  if (g_telemetry == nullptr) return -1;
  std::lock_guard<std::mutex> lock(g_telemetry->mu);
  // Telemetry names allow no dots, so the keys travel as "key = value" strings.
  rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
  for (const auto& [k, v] : g_telemetry->snap.config) {
    rte_tel_data_add_array_string(d, (k + " = " + v).c_str());
  }
  return 0;
}

int timewait_cb(const char*, const char* params, rte_tel_data* d) {
  if (g_telemetry == nullptr) return -1;
  std::size_t want = 100;
  if (params != nullptr && *params != '\0') {
    std::uint32_t n = 0;
    if (!parse_uint<std::uint32_t>(params, 0, Telemetry::kMaxTimewait, n)) return -1;
    want = n;
  }
  std::lock_guard<std::mutex> lock(g_telemetry->mu);
  const auto& snap = g_telemetry->snap;
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

Telemetry::Telemetry(const Config& cfg) {
  std::istringstream in(format(cfg));
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto eq = line.find(" = ");
    if (eq == std::string::npos) continue;
    snap.config.emplace_back(line.substr(0, eq), line.substr(eq + 3));
  }
  g_telemetry = this;
  rte_telemetry_register_cmd("/twtcp/stats", stats_cb,
                             "twtcp counters by Linux MIB name: Tcp, TcpExt, twtcp");
  rte_telemetry_register_cmd("/twtcp/config", config_cb, "twtcp configuration, key = value");
  rte_telemetry_register_cmd("/twtcp/timewait", timewait_cb,
                             "TIME_WAIT entries (param: how many, default 100, max 500)");
}

Telemetry::~Telemetry() {
  std::lock_guard<std::mutex> lock(mu);
  g_telemetry = nullptr;
}

void Telemetry::publish(const Stack& stack, std::uint64_t now_us,
                        const std::vector<std::pair<std::string, std::uint64_t>>& extra) {
  next_us_ = now_us + 100'000;
  // Build outside the lock; swap in under it.
  scratch_.groups.clear();
  stack.counters().for_each([&](std::string_view g, std::string_view name, std::uint64_t v) {
    if (scratch_.groups.empty() || scratch_.groups.back().first != g) {
      scratch_.groups.emplace_back(std::string(g),
                                   std::vector<std::pair<std::string, std::uint64_t>>{});
    }
    scratch_.groups.back().second.emplace_back(std::string(name), v);
  });
  if (scratch_.groups.empty() || scratch_.groups.back().first != "twtcp") {
    scratch_.groups.emplace_back("twtcp", std::vector<std::pair<std::string, std::uint64_t>>{});
  }
  for (const auto& [k, v] : extra) scratch_.groups.back().second.emplace_back(k, v);
  scratch_.timewait.clear();
  stack.for_each_timewait([&](const TimeWaitInfo& t) { scratch_.timewait.push_back(t); },
                          kMaxTimewait);
  scratch_.timewait_total = stack.timewait_count();
  scratch_.taken_at_us = now_us;
  std::unique_lock<std::mutex> lock(mu, std::try_to_lock);
  if (!lock.owns_lock()) return;  // a reader is busy: next round
  std::swap(snap.groups, scratch_.groups);
  std::swap(snap.timewait, scratch_.timewait);
  snap.timewait_total = scratch_.timewait_total;
  snap.taken_at_us = now_us;
}

}  // namespace twtcp::app
