#include "wire/tcp.hpp"

namespace twtcp::wire {

Parsed<TcpOptions> parse_tcp_options(std::span<const std::uint8_t> opts) noexcept {
  using R = Parsed<TcpOptions>;
  R r;
  TcpOptions& out = r.value;
  const std::size_t n = opts.size();
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
      default:
        break;  // unknown or unused (SACK blocks): skipped
    }
    i += len;
  }
  return r;
}

std::size_t tcp_options_length(const TcpOptions& o) noexcept {
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

std::size_t write_tcp_options(std::span<std::uint8_t> out, const TcpOptions& o) noexcept {
  const std::size_t total = tcp_options_length(o);
  if (out.size() < total) return 0;
  std::uint8_t* p = out.data();
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
