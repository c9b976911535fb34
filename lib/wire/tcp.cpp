#include "wire/tcp.hpp"

#include <algorithm>

namespace twtcp::wire {

Parsed<TcpOptions> parse_tcp_options(std::span<const std::uint8_t> opts) noexcept {
  using R = Parsed<TcpOptions>;
  R r;
  TcpOptions& out = r.value;
  const std::size_t n = opts.size();
  // A TCP header holds at most 40 bytes of options (data offset 15); a longer area cannot be
  // a header's, and four SACK blocks beside the other options would not fit back into one.
  if (n > kTcpMaxOptionsLen) return R::fail(ParseError::kTcpOptionPastHeader);
  // Fast path for the layout on nearly every established-state segment of a Linux or BSD
  // peer (RFC 7323 Appendix A): NOP, NOP, TS(10), nothing else.
  if (n == 12 && opts[0] == tcp_option::kNop && opts[1] == tcp_option::kNop &&
      opts[2] == tcp_option::kTimestamps && opts[3] == 10) {
    out.ts = TcpTimestamps{load_be32(&opts[4]), load_be32(&opts[8])};
    return r;
  }
  std::size_t i = 0;
  while (i < n) {
    const std::uint8_t kind = opts[i];
    if (kind == tcp_option::kEol) break;
    if (kind == tcp_option::kNop) {
      ++i;
      continue;
    }
    if (n - i < 2) return R::fail(ParseError::kTcpOptionPastHeader);
    const std::uint8_t len = opts[i + 1];
    if (len < 2) return R::fail(ParseError::kTcpOptionLengthTooSmall);
    if (len > n - i) return R::fail(ParseError::kTcpOptionPastHeader);
    const std::uint8_t* body = opts.data() + i + 2;
    switch (kind) {
      case tcp_option::kMss:
        if (len != 4) return R::fail(ParseError::kTcpOptionBadLength);
        if (out.mss) return R::fail(ParseError::kTcpOptionDuplicate);
        out.mss = load_be16(body);
        break;
      case tcp_option::kWindowScale:
        if (len != 3) return R::fail(ParseError::kTcpOptionBadLength);
        if (out.wscale) return R::fail(ParseError::kTcpOptionDuplicate);
        out.wscale = body[0];
        break;
      case tcp_option::kSackPermitted:
        if (len != 2) return R::fail(ParseError::kTcpOptionBadLength);
        if (out.sack_permitted) return R::fail(ParseError::kTcpOptionDuplicate);
        out.sack_permitted = true;
        break;
      case tcp_option::kTimestamps:
        if (len != 10) return R::fail(ParseError::kTcpOptionBadLength);
        if (out.ts) return R::fail(ParseError::kTcpOptionDuplicate);
        out.ts = TcpTimestamps{load_be32(body), load_be32(body + 4)};
        break;
      case tcp_option::kSack: {
        const std::size_t blocks = (len - 2u) / 8u;
        if ((len - 2u) % 8u != 0 || blocks == 0 || blocks > TcpOptions::kMaxSackBlocks) {
          return R::fail(ParseError::kTcpOptionBadLength);
        }
        if (out.sack_count) return R::fail(ParseError::kTcpOptionDuplicate);
        for (std::size_t b = 0; b < blocks; ++b) {
          out.sack[b] = TcpSackBlock{load_be32(body + 8 * b), load_be32(body + 8 * b + 4)};
        }
        out.sack_count = static_cast<std::uint8_t>(blocks);
        break;
      }
      default:
        break;  // unknown or unused: skipped
    }
    i += len;
  }
  return r;
}

namespace {

// Linux's layout, everything but the SACK blocks.
std::size_t fixed_options_length(const TcpOptions& o) noexcept {
  std::size_t n = 0;
  if (o.mss) n += 4;
  if (o.ts) {
    n += 12;  // SACK-permitted rides in the TS option's NOP padding, or NOP,NOP takes it
  } else if (o.sack_permitted) {
    n += 4;
  }
  if (o.wscale) n += 4;
  return n;
}

// SACK blocks that fit after `used` bytes, the block list costing `list_overhead` + 8n.
std::size_t blocks_fitting(const TcpOptions& o, std::size_t used,
                           std::size_t list_overhead) noexcept {
  if (used + list_overhead + 8 > kTcpMaxOptionsLen) return 0;
  const std::size_t room = (kTcpMaxOptionsLen - used - list_overhead) / 8;
  return std::min<std::size_t>({room, o.sack_count, TcpOptions::kMaxSackBlocks});
}

// Every option at its own length, no NOPs (the list EOL-padded to 4 bytes). Linux never sends
// SACK blocks next to window scale (a SYN-only option), so its layout can be a few bytes short
// where this one is not; used only then, so that anything parse_tcp_options() accepted (at
// most 40 bytes) can be written back whole.
std::size_t packed_fixed_length(const TcpOptions& o) noexcept {
  return (o.mss ? 4u : 0u) + (o.sack_permitted ? 2u : 0u) + (o.ts ? 10u : 0u) +
         (o.wscale ? 3u : 0u);
}
bool use_packed_layout(const TcpOptions& o) noexcept {
  const std::size_t want = std::min<std::size_t>(o.sack_count, TcpOptions::kMaxSackBlocks);
  return blocks_fitting(o, fixed_options_length(o), 4) < want &&
         blocks_fitting(o, packed_fixed_length(o), 2) >
             blocks_fitting(o, fixed_options_length(o), 4);
}

}  // namespace

std::size_t tcp_sack_blocks_written(const TcpOptions& o) noexcept {
  if (o.sack_count == 0) return 0;
  if (use_packed_layout(o)) return blocks_fitting(o, packed_fixed_length(o), 2);
  // NOP, NOP, kind, length, then 8 bytes a block: 4 + 8n stays 4-byte aligned.
  return blocks_fitting(o, fixed_options_length(o), 4);
}

std::size_t tcp_options_length(const TcpOptions& o) noexcept {
  const std::size_t blocks = tcp_sack_blocks_written(o);
  if (use_packed_layout(o)) return (packed_fixed_length(o) + 2 + 8 * blocks + 3) & ~std::size_t{3};
  return fixed_options_length(o) + (blocks ? 4 + 8 * blocks : 0);
}

std::size_t write_tcp_options(std::span<std::uint8_t> out, const TcpOptions& o) noexcept {
  const std::size_t total = tcp_options_length(o);
  if (out.size() < total) return 0;
  std::uint8_t* p = out.data();
  if (use_packed_layout(o)) {
    std::uint8_t* const end = p + total;
    if (o.mss) {
      p[0] = tcp_option::kMss;
      p[1] = 4;
      store_be16(p + 2, *o.mss);
      p += 4;
    }
    if (o.sack_permitted) {
      p[0] = tcp_option::kSackPermitted;
      p[1] = 2;
      p += 2;
    }
    if (o.ts) {
      p[0] = tcp_option::kTimestamps;
      p[1] = 10;
      store_be32(p + 2, o.ts->tsval);
      store_be32(p + 6, o.ts->tsecr);
      p += 10;
    }
    if (o.wscale) {
      p[0] = tcp_option::kWindowScale;
      p[1] = 3;
      p[2] = *o.wscale;
      p += 3;
    }
    const std::size_t blocks = tcp_sack_blocks_written(o);
    p[0] = tcp_option::kSack;
    p[1] = static_cast<std::uint8_t>(2 + 8 * blocks);
    p += 2;
    for (std::size_t b = 0; b < blocks; ++b, p += 8) {
      store_be32(p, o.sack[b].left);
      store_be32(p + 4, o.sack[b].right);
    }
    while (p < end) *p++ = tcp_option::kEol;
    return total;
  }
  if (o.mss) {
    p[0] = tcp_option::kMss;
    p[1] = 4;
    store_be16(p + 2, *o.mss);
    p += 4;
  }
  if (o.ts) {
    if (o.sack_permitted) {
      p[0] = tcp_option::kSackPermitted;
      p[1] = 2;
    } else {
      p[0] = tcp_option::kNop;
      p[1] = tcp_option::kNop;
    }
    p[2] = tcp_option::kTimestamps;
    p[3] = 10;
    store_be32(p + 4, o.ts->tsval);
    store_be32(p + 8, o.ts->tsecr);
    p += 12;
  } else if (o.sack_permitted) {
    p[0] = tcp_option::kNop;
    p[1] = tcp_option::kNop;
    p[2] = tcp_option::kSackPermitted;
    p[3] = 2;
    p += 4;
  }
  if (o.wscale) {
    p[0] = tcp_option::kNop;
    p[1] = tcp_option::kWindowScale;
    p[2] = 3;
    p[3] = *o.wscale;
    p += 4;
  }
  if (const std::size_t blocks = tcp_sack_blocks_written(o)) {
    p[0] = tcp_option::kNop;
    p[1] = tcp_option::kNop;
    p[2] = tcp_option::kSack;
    p[3] = static_cast<std::uint8_t>(2 + 8 * blocks);
    p += 4;
    for (std::size_t b = 0; b < blocks; ++b) {
      store_be32(p, o.sack[b].left);
      store_be32(p + 4, o.sack[b].right);
      p += 8;
    }
  }
  return total;
}

Parsed<TcpView> parse_tcp(std::span<const std::uint8_t> segment) noexcept {
  using R = Parsed<TcpView>;
  if (segment.size() < kTcpMinHeaderLen) return R::fail(ParseError::kTcpTruncated);
  const std::size_t hlen = std::size_t{static_cast<std::uint8_t>(segment[12] >> 4)} * 4;
  if (hlen < kTcpMinHeaderLen) return R::fail(ParseError::kTcpBadDataOffset);
  if (hlen > segment.size()) return R::fail(ParseError::kTcpDataOffsetPastSegment);
  return {TcpView(segment), ParseError::kOk};
}

std::size_t write_tcp_header(std::span<std::uint8_t> out, const TcpFields& f) noexcept {
  const std::size_t hlen = kTcpMinHeaderLen + tcp_options_length(f.options);
  if (out.size() < hlen) return 0;
  std::uint8_t* p = out.data();
  store_be16(p, f.src_port);
  store_be16(p + 2, f.dst_port);
  store_be32(p + 4, f.seq);
  store_be32(p + 8, f.ack);
  p[12] = static_cast<std::uint8_t>((hlen / 4) << 4);
  p[13] = f.flags;
  store_be16(p + 14, f.window);
  store_be16(p + 16, 0);
  store_be16(p + 18, f.urgent);
  write_tcp_options(out.subspan(kTcpMinHeaderLen), f.options);
  return hlen;
}

}  // namespace twtcp::wire
