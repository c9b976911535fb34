// lib/scenario/common.cpp
#include "scenario/common.hpp"

#include <cstdio>

#include "config/presets.hpp"

namespace twtcp::scenario {

std::string ipv4_str(std::uint32_t a) {
  char b[16];
  std::snprintf(b, sizeof b, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
  return b;
}

Config small_tables(Config c) {
  c.max_connections = 1024;
  c.flow_table_capacity = 4096;
  c.peer_table_size = 256;
  c.max_listeners = 4;
  return c;
}

bool apply_sets(Config& cfg, const std::vector<std::string>& lines, std::string& error) {
  for (const std::string& s : lines) {
    if (auto r = apply_set(cfg, s); !r.ok()) {
      error = r.message();
      return false;
    }
  }
  if (auto r = validate(cfg); !r.ok()) {
    error = r.message();
    return false;
  }
  return true;
}

std::optional<Config> build_config(std::string_view preset, const Options& options,
                                   std::uint64_t salt, std::string& error) {
  ConfigLoader loader(small_tables(Config{}));
  if (options.config_files.empty()) {
    const Preset* p = find_preset(preset);
    if (p == nullptr) {
      error = "no preset named " + std::string(preset);
      return std::nullopt;
    }
    if (auto r = loader.load_string(p->text, std::string(preset) + ".conf"); !r.ok()) {
      error = r.message();
      return std::nullopt;
    }
  }
  for (const std::string& f : options.config_files) {
    if (auto r = loader.load_file(f); !r.ok()) {
      error = r.message();
      return std::nullopt;
    }
  }
  for (const std::string& s : options.sets) {
    if (auto r = loader.apply_set(s); !r.ok()) {
      error = r.message();
      return std::nullopt;
    }
  }
  if (auto r = loader.finish(); !r.ok()) {
    error = r.message();
    return std::nullopt;
  }
  Config c = loader.config();
  if (c.random_seed == 0) c.random_seed = options.seed * 0x9e3779b97f4a7c15ULL + salt;
  return c;
}

Identity identity(std::uint32_t addr, std::uint8_t mac_last) {
  Identity id;
  id.addr = addr;
  id.mac = {2, 0, 0, 0, 0, mac_last};
  id.peer_mac = {2, 0, 0, 0, 0, 0xff};
  return id;
}

std::string json_string(std::string_view s) {
  std::string o = "\"";
  for (char ch : s) {
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

std::string counters_json(const Stack& s) {
  std::string out = "{";
  std::string group;
  s.counters().for_each([&](std::string_view g, std::string_view name, std::uint64_t v) {
    if (g != group) {
      if (!group.empty()) out += "}, ";
      out += json_string(g) + ": {";
      group = g;
    } else {
      out += ", ";
    }
    out += json_string(name) + ": " + std::to_string(v);
  });
  if (!group.empty()) out += "}";
  return out + "}";
}

std::string json_array(const std::vector<std::uint64_t>& v) {
  return "[" + join(v) + "]";
}

std::string join(const std::vector<std::uint64_t>& v) {
  std::string o;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) o += ", ";
    o += std::to_string(v[i]);
  }
  return o;
}

std::string seconds_str(std::uint64_t us) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3f s", static_cast<double>(us) / 1e6);
  return b;
}

}  // namespace twtcp::scenario
