// lib/tcp/syncookie.cpp: SYN cookie ISN and TSval encoding (see syncookie.hpp).
#include "tcp/syncookie.hpp"

namespace twtcp::tcp::syncookie {

namespace {

constexpr unsigned kCookieBits = 24;
constexpr std::uint32_t kCookieMask = (1u << kCookieBits) - 1;

std::uint32_t hash(const ports::SipKey& key, const Tuple& t, std::uint32_t minute) noexcept {
  const std::uint32_t words[4] = {t.local_addr, t.remote_addr,
                                  (std::uint32_t{t.local_port} << 16) | t.remote_port, minute};
  unsigned char buf[16];
  for (int w = 0; w < 4; ++w) {
    for (int i = 0; i < 4; ++i) buf[4 * w + i] = static_cast<unsigned char>(words[w] >> (8 * i));
  }
  return static_cast<std::uint32_t>(ports::siphash24(key, buf, sizeof buf));
}

}  // namespace

std::uint8_t mss_index(std::optional<std::uint16_t> peer_mss) noexcept {
  const std::uint16_t mss = peer_mss.value_or(kMssTable[0]);
  std::uint8_t i = kMssTable.size() - 1;
  while (i > 0 && mss < kMssTable[i]) --i;
  return i;
}

std::uint32_t make_isn(const Secret& s, const Tuple& t, std::uint32_t peer_isn,
                       std::uint32_t minute, std::uint8_t mss_idx) noexcept {
  return hash(s.h1, t, 0) + peer_isn + (minute << kCookieBits) +
         ((hash(s.h2, t, minute) + mss_idx) & kCookieMask);
}

std::optional<std::uint16_t> check_isn(const Secret& s, const Tuple& t, std::uint32_t peer_isn,
                                       std::uint32_t isn, std::uint32_t minute) noexcept {
  const std::uint32_t c = isn - hash(s.h1, t, 0) - peer_isn;
  // The minute the cookie was made in, from its top 8 bits: a wrap of 256 minutes is harmless.
  const std::uint32_t age = (minute - (c >> kCookieBits)) & (0xffffffffu >> kCookieBits);
  if (age >= kMaxAgeMinutes) return std::nullopt;
  const std::uint32_t idx = (c - hash(s.h2, t, minute - age)) & kCookieMask;
  if (idx >= kMssTable.size()) return std::nullopt;
  return kMssTable[idx];
}

std::uint32_t encode_ts(std::uint32_t ts_now, const TsOptions& o) noexcept {
  std::uint32_t bits = o.wscale ? (*o.wscale & kTsNoWscale) : kTsNoWscale;
  if (o.sack_ok) bits |= kTsSack;
  if (o.ecn_ok) bits |= kTsEcn;
  std::uint32_t ts = (ts_now & ~kTsMask) | bits;
  // A TSval from the future would make the peer's PAWS reject our next segments.
  if (static_cast<std::int32_t>(ts - ts_now) > 0) ts -= kTsMask + 1;
  return ts;
}

std::optional<TsOptions> decode_ts(std::uint32_t ts, bool sack_enabled,
                                   bool window_scaling_enabled) noexcept {
  TsOptions o;
  o.sack_ok = (ts & kTsSack) != 0;
  o.ecn_ok = (ts & kTsEcn) != 0;
  if (o.sack_ok && !sack_enabled) return std::nullopt;
  const std::uint32_t ws = ts & kTsNoWscale;
  if (ws == kTsNoWscale) return o;
  if (!window_scaling_enabled) return std::nullopt;
  o.wscale = static_cast<std::uint8_t>(ws);
  return o;
}

}  // namespace twtcp::tcp::syncookie
