// lib/config/presets.hpp: the presets of configs/*.conf, compiled into the library so that
// programs (twtcp-sim, the benches, fuzz targets) can load them by name from anywhere.
#pragma once

#include <string_view>
#include <vector>

namespace twtcp {

struct Preset {
  std::string_view name;  // file name without ".conf", e.g. "linux-3.10-recycle"
  std::string_view text;  // the file, in sysctl.conf syntax (load_string() it)
};

// Every preset, sorted by name.
const std::vector<Preset>& presets();
// The preset called `name`, or nullptr.
const Preset* find_preset(std::string_view name);

}  // namespace twtcp
