// lib/ports/port_set.hpp: a set of TCP ports as a 65536-bit bitmap (8 KiB), and the parser for
// Linux's net.ipv4.ip_local_reserved_ports list syntax ("8080,9000-9010").
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace twtcp::ports {

class PortSet {
 public:
  [[nodiscard]] bool contains(std::uint16_t port) const noexcept {
    return (words_[port >> 6] >> (port & 63)) & 1U;
  }
  void insert(std::uint16_t port) noexcept { words_[port >> 6] |= std::uint64_t{1} << (port & 63); }
  void erase(std::uint16_t port) noexcept {
    words_[port >> 6] &= ~(std::uint64_t{1} << (port & 63));
  }
  // Inserts every port in [first, last]; nothing when first > last.
  void insert_range(std::uint16_t first, std::uint16_t last) noexcept;
  void clear() noexcept { words_.fill(0); }
  [[nodiscard]] std::size_t size() const noexcept;
  [[nodiscard]] bool empty() const noexcept { return size() == 0; }

  friend bool operator==(const PortSet&, const PortSet&) = default;

 private:
  std::array<std::uint64_t, 65536 / 64> words_{};
};

enum class PortListError : std::uint8_t {
  kOk = 0,
  kExpectedNumber,  // a token does not start with a decimal digit (includes "-5", ",,", "a")
  kNumberTooLarge,  // a port above 65535
  kReversedRange,   // "a-b" with a > b
  kUnexpectedChar,  // something other than ',', '-', blanks or a final newline after a number
};

// A static one-line description; never null.
[[nodiscard]] const char* reason(PortListError e) noexcept;

struct [[nodiscard]] PortListParse {
  PortSet ports;
  PortListError error = PortListError::kOk;
  std::size_t error_offset = 0;  // byte offset into the input where parsing stopped

  [[nodiscard]] bool ok() const noexcept { return error == PortListError::kOk; }
  [[nodiscard]] const char* why() const noexcept { return reason(error); }
};

// Parses the value written to net.ipv4.ip_local_reserved_ports: comma-separated ports and
// inclusive ranges "a-b". Blanks around tokens and one trailing newline are accepted; an empty
// (or all-blank) string is the empty set, which is how Linux clears the list. Writing replaces
// the set, as a single write(2) to the sysctl does. On error `ports` is empty.
[[nodiscard]] PortListParse parse_reserved_ports(std::string_view text);

// The inverse, in the form `sysctl net.ipv4.ip_local_reserved_ports` prints: ranges collapsed,
// ascending, no spaces ("8080,9000-9010"); empty string for the empty set.
[[nodiscard]] std::string format_port_list(const PortSet& set);

}  // namespace twtcp::ports
