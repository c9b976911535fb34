#include "ports/port_set.hpp"

#include <bit>

namespace twtcp::ports {

void PortSet::insert_range(std::uint16_t first, std::uint16_t last) noexcept {
  for (std::uint32_t p = first; p <= last; ++p) insert(static_cast<std::uint16_t>(p));
}

std::size_t PortSet::size() const noexcept {
  std::size_t n = 0;
  for (std::uint64_t w : words_) n += static_cast<std::size_t>(std::popcount(w));
  return n;
}

const char* reason(PortListError e) noexcept {
  switch (e) {
    case PortListError::kOk:
      return "ok";
    case PortListError::kExpectedNumber:
      return "expected a port number (0-65535)";
    case PortListError::kNumberTooLarge:
      return "port number above 65535";
    case PortListError::kReversedRange:
      return "range start is above range end";
    case PortListError::kUnexpectedChar:
      return "unexpected character; expected ',' or '-' between ports";
  }
  return "unknown port list error";
}

namespace {

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

struct Cursor {
  std::string_view s;
  std::size_t i = 0;

  void skip_blanks() {
    while (i < s.size() && is_blank(s[i])) ++i;
  }
  [[nodiscard]] bool at_end() const { return i >= s.size(); }
  [[nodiscard]] char peek() const { return s[i]; }

  // Reads a decimal port; on failure leaves `i` at the offending byte.
  PortListError number(std::uint16_t& out) {
    if (at_end() || !is_digit(s[i])) return PortListError::kExpectedNumber;
    std::uint32_t v = 0;
    while (i < s.size() && is_digit(s[i])) {
      v = v * 10 + static_cast<std::uint32_t>(s[i] - '0');
      if (v > 65535) return PortListError::kNumberTooLarge;
      ++i;
    }
    out = static_cast<std::uint16_t>(v);
    return PortListError::kOk;
  }
};

}  // namespace

PortListParse parse_reserved_ports(std::string_view text) {
  PortListParse r;
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  Cursor c{text};
  c.skip_blanks();
  if (c.at_end()) return r;

  auto fail = [&](PortListError e) {
    r.ports.clear();
    r.error = e;
    r.error_offset = c.i;
    return r;
  };
  for (;;) {
    c.skip_blanks();
    std::uint16_t a = 0;
    if (auto e = c.number(a); e != PortListError::kOk) return fail(e);
    std::uint16_t b = a;
    c.skip_blanks();
    if (!c.at_end() && c.peek() == '-') {
      ++c.i;
      c.skip_blanks();
      const std::size_t range_end_at = c.i;
      if (auto e = c.number(b); e != PortListError::kOk) return fail(e);
      if (a > b) {
        c.i = range_end_at;
        return fail(PortListError::kReversedRange);
      }
      c.skip_blanks();
    }
    r.ports.insert_range(a, b);
    if (c.at_end()) return r;
    if (c.peek() != ',') return fail(PortListError::kUnexpectedChar);
    ++c.i;
  }
}

std::string format_port_list(const PortSet& set) {
  std::string out;
  std::uint32_t p = 0;
  while (p <= 65535) {
    if (!set.contains(static_cast<std::uint16_t>(p))) {
      ++p;
      continue;
    }
    std::uint32_t q = p;
    while (q < 65535 && set.contains(static_cast<std::uint16_t>(q + 1))) ++q;
    if (!out.empty()) out += ',';
    out += std::to_string(p);
    if (q != p) {
      out += '-';
      out += std::to_string(q);
    }
    p = q + 1;
  }
  return out;
}

}  // namespace twtcp::ports
