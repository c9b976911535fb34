// lib/wire/tcp.hpp: the TCP header and the options twtcp understands (RFC 9293, RFC 7323,
// RFC 2018 SACK-permitted).
//
// Option-list policy (stricter than Linux, which skips what it does not like): a list that
// cannot be walked safely (length 0/1, running past the header), a known option with the
// wrong fixed length, or a known option given twice is a parse error and the segment is
// dropped by the caller. Real stacks never send these; an attacker or a broken middlebox
// does, and refusing is simpler to reason about than "last one wins". Unknown kinds (SACK
// blocks, MD5, TFO, ...) are length-checked and skipped. EOL ends the list; bytes after it
// are padding and are not inspected.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "wire/bytes.hpp"
#include "wire/error.hpp"

namespace twtcp::wire {

inline constexpr std::size_t kTcpMinHeaderLen = 20;
inline constexpr std::size_t kTcpMaxOptionsLen = 40;

// Flag bits of header byte 13.
namespace tcp_flags {
inline constexpr std::uint8_t kFin = 0x01;
inline constexpr std::uint8_t kSyn = 0x02;
inline constexpr std::uint8_t kRst = 0x04;
inline constexpr std::uint8_t kPsh = 0x08;
inline constexpr std::uint8_t kAck = 0x10;
inline constexpr std::uint8_t kUrg = 0x20;
inline constexpr std::uint8_t kEce = 0x40;
inline constexpr std::uint8_t kCwr = 0x80;
}  // namespace tcp_flags

namespace tcp_option {
inline constexpr std::uint8_t kEol = 0;
inline constexpr std::uint8_t kNop = 1;
inline constexpr std::uint8_t kMss = 2;
inline constexpr std::uint8_t kWindowScale = 3;
inline constexpr std::uint8_t kSackPermitted = 4;
inline constexpr std::uint8_t kSack = 5;
inline constexpr std::uint8_t kTimestamps = 8;
}  // namespace tcp_option

struct TcpTimestamps {
  std::uint32_t tsval = 0;
  std::uint32_t tsecr = 0;
  friend bool operator==(const TcpTimestamps&, const TcpTimestamps&) = default;
};

// The options the TCP layer acts on. wscale is the raw shift count from the wire; RFC 7323
// §2.3 says to treat values above 14 as 14, which is the TCP layer's call, not the parser's.
struct TcpOptions {
  std::optional<std::uint16_t> mss;
  std::optional<std::uint8_t> wscale;
  bool sack_permitted = false;
  std::optional<TcpTimestamps> ts;
  friend bool operator==(const TcpOptions&, const TcpOptions&) = default;
};

// Walks an option list (the bytes between the fixed header and the data offset).
[[nodiscard]] Parsed<TcpOptions> parse_tcp_options(std::span<const std::uint8_t> options) noexcept;

// Bytes write_tcp_options() will produce for `o`, a multiple of 4, at most 20.
[[nodiscard]] std::size_t tcp_options_length(const TcpOptions& o) noexcept;

// Writes `o` in Linux's layout (MSS; SACK-permitted+TS packed as 4,2,8,10 or NOP-padded;
// NOP+WS), so captures look like a Linux peer's. Returns tcp_options_length(o), or 0 with
// nothing written when `out` is smaller than that.
std::size_t write_tcp_options(std::span<std::uint8_t> out, const TcpOptions& o) noexcept;

// A view over a TCP segment whose fixed header and data offset are known to be in bounds.
// Options are exposed raw; parse them with parse_tcp_options(view.options()).
class TcpView {
 public:
  TcpView() = default;

  [[nodiscard]] std::uint16_t src_port() const noexcept { return load_be16(&bytes_[0]); }
  [[nodiscard]] std::uint16_t dst_port() const noexcept { return load_be16(&bytes_[2]); }
  [[nodiscard]] std::uint32_t seq() const noexcept { return load_be32(&bytes_[4]); }
  [[nodiscard]] std::uint32_t ack() const noexcept { return load_be32(&bytes_[8]); }
  [[nodiscard]] std::size_t header_length() const noexcept {
    return std::size_t{static_cast<std::uint8_t>(bytes_[12] >> 4)} * 4;
  }
  [[nodiscard]] std::uint8_t flags() const noexcept { return bytes_[13]; }
  [[nodiscard]] std::uint16_t window() const noexcept { return load_be16(&bytes_[14]); }
  [[nodiscard]] std::uint16_t checksum() const noexcept { return load_be16(&bytes_[16]); }
  [[nodiscard]] std::uint16_t urgent() const noexcept { return load_be16(&bytes_[18]); }
  [[nodiscard]] std::span<const std::uint8_t> options() const noexcept {
    return bytes_.subspan(kTcpMinHeaderLen, header_length() - kTcpMinHeaderLen);
  }
  [[nodiscard]] std::span<const std::uint8_t> payload() const noexcept {
    return bytes_.subspan(header_length());
  }
  [[nodiscard]] std::span<const std::uint8_t> bytes() const noexcept { return bytes_; }

 private:
  friend Parsed<TcpView> parse_tcp(std::span<const std::uint8_t>) noexcept;
  explicit TcpView(std::span<const std::uint8_t> b) : bytes_(b) {}
  std::span<const std::uint8_t> bytes_;
};

// Checks the fixed header and data offset against `segment` (the IPv4 payload). Does not
// parse options or verify the checksum (that needs the IP addresses; see parse_segment()).
[[nodiscard]] Parsed<TcpView> parse_tcp(std::span<const std::uint8_t> segment) noexcept;

struct TcpFields {
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;
  std::uint16_t urgent = 0;
  TcpOptions options;
};

// Writes the TCP header with options, checksum field zero. Returns the header length, or 0
// (nothing written) if `out` is too small.
std::size_t write_tcp_header(std::span<std::uint8_t> out, const TcpFields& f) noexcept;

}  // namespace twtcp::wire
