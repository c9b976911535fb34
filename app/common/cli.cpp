// app/common/cli.cpp
#include "common/cli.hpp"

#include <arpa/inet.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace twtcp::app {

bool parse_ipv4(std::string_view s, std::uint32_t& out) {
  const std::string str(s);
  in_addr a{};
  if (str.empty() || inet_pton(AF_INET, str.c_str(), &a) != 1) return false;
  out = ntohl(a.s_addr);
  return true;
}

bool parse_prefix(std::string_view s, Ipv4Prefix& out) {
  const auto slash = s.find('/');
  if (slash == std::string_view::npos) return false;
  std::uint8_t len = 0;
  if (!parse_ipv4(s.substr(0, slash), out.addr) ||
      !parse_uint<std::uint8_t>(s.substr(slash + 1), 1, 32, len)) {
    return false;
  }
  out.len = len;
  return true;
}

bool parse_endpoint(std::string_view s, std::uint32_t& addr, std::uint16_t& port) {
  const auto colon = s.rfind(':');
  return colon != std::string_view::npos && parse_ipv4(s.substr(0, colon), addr) &&
         parse_uint<std::uint16_t>(s.substr(colon + 1), 1, 65535, port);
}

std::string ipv4_str(std::uint32_t a) {
  char b[16];
  std::snprintf(b, sizeof b, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
  return b;
}

std::optional<Config> load_config(const std::vector<std::string>& files,
                                  const std::vector<std::string>& sets, std::string* error) {
  ConfigLoader loader;
  for (const auto& f : files) {
    if (auto r = loader.load_file(f); !r) {
      *error = r.message();
      return std::nullopt;
    }
  }
  for (const auto& s : sets) {
    if (auto r = loader.apply_set(s); !r) {
      *error = r.message();
      return std::nullopt;
    }
  }
  if (auto r = loader.finish(); !r) {
    *error = r.message();
    return std::nullopt;
  }
  return loader.config();
}

std::string json_string(std::string_view s) {
  std::string o = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      o += '\\';
      o += ch;
    } else if (c < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else {
      o += ch;
    }
  }
  return o + "\"";
}

std::string counters_json(const StackCounters& c,
                          const std::vector<std::pair<std::string, std::string>>& extra) {
  std::string out = "{";
  std::string group;
  bool saw_twtcp = false;
  c.for_each([&](std::string_view g, std::string_view name, std::uint64_t v) {
    if (g != group) {
      if (!group.empty()) out += "}, ";
      out += json_string(g) + ": {";
      group = g;
      saw_twtcp = saw_twtcp || g == "twtcp";
    } else {
      out += ", ";
    }
    out += json_string(name) + ": " + std::to_string(v);
  });
  if (!saw_twtcp) {
    if (!group.empty()) out += "}, ";
    out += "\"twtcp\": {";
    group = "twtcp";
    bool first = true;
    for (const auto& [k, v] : extra) {
      out += (first ? "" : ", ") + json_string(k) + ": " + v;
      first = false;
    }
  } else {
    for (const auto& [k, v] : extra) out += ", " + json_string(k) + ": " + v;
  }
  if (!group.empty()) out += "}";
  return out + "}";
}

namespace {
volatile std::sig_atomic_t g_stops = 0;
extern "C" void on_stop_signal(int) {
  g_stops = g_stops + 1;
  if (g_stops >= 2) _exit(130);
}
}  // namespace

void install_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool stop_requested() noexcept {
  return g_stops > 0;
}

bool write_file(const std::string& path, const std::string& text, std::string* error) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f || !(f << text) || !f.flush()) {
      *error = "cannot write " + path + ": " + std::strerror(errno);
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    *error = "cannot write " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace twtcp::app
