// lib/wire/tcp.hpp: the TCP header and the options twtcp understands (RFC 9293, RFC 7323,
// RFC 2018 SACK-permitted and SACK blocks).
//
// Option-list policy (stricter than Linux, which skips what it does not like): a list that
// cannot be walked safely (length 0/1, running past the header), a known option with the
// wrong fixed length, or a known option given twice is a parse error and the segment is
// dropped by the caller. Real stacks never send these; an attacker or a broken middlebox
// does, and refusing is simpler to reason about than "last one wins". A SACK option is known:
// its length must be 2 + 8n with n = 1..4 (Linux skips other lengths; we reject them as a bad
// length). Unknown kinds (MD5, TFO, ...) are length-checked and skipped. EOL ends the list;
// bytes after it are padding and are not inspected.
#pragma once

#include <array>
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

// One RFC 2018 SACK block as sent: the receiver holds [left, right). Not validated here
// (left may not be below right, blocks may overlap): judging them needs the sender's state.
struct TcpSackBlock {
  std::uint32_t left = 0;
  std::uint32_t right = 0;
  friend bool operator==(const TcpSackBlock&, const TcpSackBlock&) = default;
};

// The options the TCP layer acts on. wscale is the raw shift count from the wire; RFC 7323
// §2.3 says to treat values above 14 as 14, which is the TCP layer's call, not the parser's.
struct TcpOptions {
  // 2 + 8 * 4 = 34 bytes: the most the 40-byte option space can carry.
  static constexpr std::size_t kMaxSackBlocks = 4;

  std::optional<std::uint16_t> mss;
  std::optional<std::uint8_t> wscale;
  bool sack_permitted = false;
  std::optional<TcpTimestamps> ts;
  // SACK blocks in wire order (RFC 2018: the first one holds the most recent segment). The
  // writer sends the first ones that fit next to the other options (3 with timestamps).
  std::uint8_t sack_count = 0;
  std::array<TcpSackBlock, kMaxSackBlocks> sack{};
  friend bool operator==(const TcpOptions& a, const TcpOptions& b) noexcept {
    if (a.mss != b.mss || a.wscale != b.wscale || a.sack_permitted != b.sack_permitted ||
        a.ts != b.ts || a.sack_count != b.sack_count) {
      return false;
    }
    for (std::size_t i = 0; i < a.sack_count && i < kMaxSackBlocks; ++i) {
      if (a.sack[i] != b.sack[i]) return false;
    }
    return true;
  }
};

// SACK blocks write_tcp_options() sends for `o`: as many of o.sack_count as fit in the
// 40-byte option space after MSS, timestamps (with SACK-permitted) and window scale. Linux
// never combines blocks with window scale; for such a list a packed layout (no NOPs) is used
// when it holds more, so that every list parse_tcp_options() accepts is written back whole.
[[nodiscard]] std::size_t tcp_sack_blocks_written(const TcpOptions& o) noexcept;

// Walks an option list (the bytes between the fixed header and the data offset).
[[nodiscard]] Parsed<TcpOptions> parse_tcp_options(std::span<const std::uint8_t> options) noexcept;

// Bytes write_tcp_options() will produce for `o`, a multiple of 4, at most 40.
[[nodiscard]] std::size_t tcp_options_length(const TcpOptions& o) noexcept;

// Writes `o` in Linux's layout (MSS; SACK-permitted+TS packed as 4,2,8,10 or NOP-padded;
// NOP+WS; NOP,NOP,SACK blocks), so captures look like a Linux peer's. Returns
// tcp_options_length(o), or 0 with nothing written when `out` is smaller than that.
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
