// lib/wire/error.hpp: what a parser returns. A parse either yields a view over the caller's
// bytes or a ParseError with a human-readable reason(); it never throws, allocates or reads
// outside the span it was given.
#pragma once

#include <cstdint>

namespace twtcp::wire {

enum class ParseError : std::uint8_t {
  kOk = 0,
  // Ethernet
  kEthernetTruncated,
  kNotIpv4,  // EtherType is not 0x0800 (VLAN tags are not unwrapped)
  kNotArp,   // EtherType is not 0x0806
  // ARP
  kArpTruncated,
  kArpUnsupported,  // not Ethernet/IPv4 (htype 1, ptype 0x0800, hlen 6, plen 4)
  kArpBadOpcode,    // neither request (1) nor reply (2)
  // IPv4
  kIpv4Truncated,  // fewer than 20 bytes
  kIpv4BadVersion,
  kIpv4BadIhl,            // IHL < 5
  kIpv4HeaderPastBuffer,  // IHL*4 > bytes available
  kIpv4BadTotalLength,    // total length < IHL*4
  kIpv4TotalLengthPastBuffer,
  kIpv4BadChecksum,
  kIpv4Fragment,  // MF set or fragment offset != 0; twtcp does no reassembly
  kNotTcp,        // protocol != 6
  // TCP
  kTcpTruncated,              // fewer than 20 bytes
  kTcpBadDataOffset,          // data offset < 5
  kTcpDataOffsetPastSegment,  // data offset*4 > segment length
  kTcpBadChecksum,
  // TCP options
  kTcpOptionLengthTooSmall,  // length byte 0 or 1
  kTcpOptionPastHeader,      // length byte missing, or the option runs past the header
  kTcpOptionBadLength,       // MSS != 4, WS != 3, SACK-permitted != 2, TS != 10
  kTcpOptionDuplicate,       // a known option (MSS, WS, SACK-permitted, TS) appears twice
};

// A static, NUL-terminated, one-line description; never null.
[[nodiscard]] const char* reason(ParseError e) noexcept;

// Either a value (a view or parsed struct) or an error. std::expected is C++23; this is the
// small subset we need. The value is default-constructed when error != kOk and must not be
// used then (views are empty and their accessors assume a successful parse).
template <class T>
struct [[nodiscard]] Parsed {
  T value{};
  ParseError error = ParseError::kOk;

  static constexpr Parsed fail(ParseError e) noexcept { return Parsed{T{}, e}; }
  [[nodiscard]] constexpr bool ok() const noexcept { return error == ParseError::kOk; }
  constexpr explicit operator bool() const noexcept { return ok(); }
  constexpr const T& operator*() const noexcept { return value; }
  constexpr const T* operator->() const noexcept { return &value; }
  [[nodiscard]] const char* why() const noexcept { return reason(error); }
};

}  // namespace twtcp::wire
