// libFuzzer target for lib/config: any input must give a ConfigResult (never a crash),
// and whatever loads must survive format() -> load_string() unchanged. validate() and
// effective() run too, so cross-key checks and model resolution see arbitrary configs.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "twtcp/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  twtcp::Config cfg;
  twtcp::ConfigResult r = twtcp::load_string(cfg, text, "fuzz");
  if (!r.ok()) {
    // Errors are one line: the message may echo input, but escaped.
    if (r.message().empty() || r.message().find('\n') != std::string::npos) std::abort();
    return 0;
  }
  (void)twtcp::validate(cfg);
  (void)cfg.effective();
  std::string printed = twtcp::format(cfg);
  twtcp::Config back;
  twtcp::ConfigResult r2 = twtcp::load_string(back, printed, "formatted");
  if (!r2.ok() || !(back == cfg) || twtcp::format(back) != printed) {
    std::fprintf(stderr, "round trip failed: %s\n", r2.message().c_str());
    std::abort();
  }
  return 0;
}
