// lib/config/presets.cpp: lookups over the generated preset table (presets_data.cpp).
#include "config/presets.hpp"

namespace twtcp {

const Preset* find_preset(std::string_view name) {
  for (const Preset& p : presets()) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

}  // namespace twtcp
