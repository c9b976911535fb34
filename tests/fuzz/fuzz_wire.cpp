// libFuzzer target for lib/wire: every parser on arbitrary bytes (ASan/UBSan catch any
// over-read), and for every frame that parses as a TCP segment or ARP packet, a rebuild and
// reparse that must give back the same fields. Any mismatch aborts.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "wire/arp.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/segment.hpp"
#include "wire/seq.hpp"
#include "wire/tcp.hpp"

namespace w = twtcp::wire;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_wire: %s\n", what);
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

template <class T>
void check_reason(const w::Parsed<T>& r) {
  const char* why = r.why();
  check(why != nullptr && why[0] != '\0', "empty reason");
}

bool inside(std::span<const std::uint8_t> part, std::span<const std::uint8_t> whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

// Reads every accessor so the sanitizers see each byte a caller could touch.
volatile std::uint32_t g_sink;

void touch(const w::Ipv4View& v) {
  g_sink = v.src() ^ v.dst() ^ v.ttl() ^ v.tos() ^ v.id() ^ v.protocol() ^ v.checksum() ^
           v.total_length() ^ static_cast<std::uint32_t>(v.options().size()) ^
           static_cast<std::uint32_t>(v.payload().size()) ^ v.dont_fragment();
}

void touch(const w::TcpView& v) {
  g_sink = v.src_port() ^ v.dst_port() ^ v.seq() ^ v.ack() ^ v.flags() ^ v.window() ^ v.checksum() ^
           v.urgent() ^ static_cast<std::uint32_t>(v.options().size()) ^
           static_cast<std::uint32_t>(v.payload().size());
  for (std::uint8_t b : v.options()) g_sink = g_sink + b;
}

void touch(const w::ArpView& v) {
  g_sink = static_cast<std::uint32_t>(v.op()) ^ v.sender_ip() ^ v.target_ip() ^ v.sender_mac()[5] ^
           v.target_mac()[5];
}

w::SegmentSpec spec_of(const w::SegmentView& s) {
  w::SegmentSpec spec;
  spec.eth_src = s.eth_src;
  spec.eth_dst = s.eth_dst;
  spec.src_addr = s.src_addr;
  spec.dst_addr = s.dst_addr;
  spec.ttl = s.ttl;
  spec.tos = s.tos;
  spec.ip_id = s.ip_id;
  spec.tcp.src_port = s.src_port;
  spec.tcp.dst_port = s.dst_port;
  spec.tcp.seq = s.seq;
  spec.tcp.ack = s.ack;
  spec.tcp.flags = s.flags;
  spec.tcp.window = s.window;
  spec.tcp.urgent = s.urgent;
  spec.tcp.options = s.options;
  return spec;
}

void check_same(const w::SegmentView& a, const w::SegmentView& b, bool with_l2) {
  if (with_l2) check(a.eth_src == b.eth_src && a.eth_dst == b.eth_dst, "mac mismatch");
  check(a.src_addr == b.src_addr && a.dst_addr == b.dst_addr, "address mismatch");
  check(a.ttl == b.ttl && a.tos == b.tos && a.ip_id == b.ip_id, "ip field mismatch");
  check(a.src_port == b.src_port && a.dst_port == b.dst_port, "port mismatch");
  check(a.seq == b.seq && a.ack == b.ack, "seq/ack mismatch");
  check(a.flags == b.flags && a.window == b.window && a.urgent == b.urgent, "tcp field mismatch");
  check(a.options == b.options, "options mismatch");
  check(a.payload.size() == b.payload.size(), "payload length mismatch");
  check(a.payload.empty() || std::memcmp(a.payload.data(), b.payload.data(), a.payload.size()) == 0,
        "payload mismatch");
  check(a.seg_len() == b.seg_len() && a.end_seq() == b.end_seq(), "seg_len mismatch");
}

// Rebuild -> reparse with full checksum verification -> equal; then an incremental seq edit
// must keep the rebuilt segment's checksum valid and equal to a full rebuild's.
void round_trip(const w::SegmentView& s, bool with_l2) {
  static std::uint8_t buf[70000];
  const w::SegmentSpec spec = spec_of(s);
  const std::size_t n =
      with_l2 ? w::build_segment(buf, spec, s.payload) : w::build_ip_segment(buf, spec, s.payload);
  check(n != 0, "rebuild failed");
  const std::span<const std::uint8_t> out(buf, n);
  const auto r = with_l2 ? w::parse_segment(out) : w::parse_ip_segment(out);
  if (!r) fail(r.why());
  check_same(s, *r, with_l2);

  std::uint8_t* tcp = buf + (with_l2 ? 14 : 0) + 20;
  const std::uint32_t new_seq = ~s.seq ^ s.ack;
  w::store_be32(tcp + 4, new_seq);
  w::store_be16(tcp + 16, w::checksum_adjust32(w::load_be16(tcp + 16), s.seq, new_seq));
  const auto r2 = with_l2 ? w::parse_segment(out) : w::parse_ip_segment(out);
  if (!r2) fail("incremental checksum update broke the segment");
  check(r2->seq == new_seq, "incremental seq edit lost");

  static std::uint8_t buf2[70000];
  w::SegmentSpec spec2 = spec;
  spec2.tcp.seq = new_seq;
  const std::size_t n2 = with_l2 ? w::build_segment(buf2, spec2, s.payload)
                                 : w::build_ip_segment(buf2, spec2, s.payload);
  check(n2 == n && std::memcmp(buf, buf2, n) == 0, "incremental != full checksum");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // An exact-size heap copy: ASan then flags a read of even one byte past the input.
  std::vector<std::uint8_t> copy(data, data + size);
  const std::span<const std::uint8_t> in(copy.data(), copy.size());

  if (auto e = w::parse_ethernet(in)) {
    g_sink = e->ethertype() ^ e->src()[0] ^ e->dst()[0];
    check(inside(e->payload(), in), "ethernet payload outside input");
  } else {
    check_reason(e);
  }
  if (auto a = w::parse_arp_frame(in)) {
    touch(*a);
    std::uint8_t buf[42];
    const w::ArpFields f{a->op(), a->sender_mac(), a->sender_ip(), a->target_mac(), a->target_ip()};
    check(w::build_arp_frame(buf, f) == 42, "arp rebuild failed");
    const auto b = w::parse_arp_frame(buf);
    check(b.ok() && b->op() == a->op() && b->sender_mac() == a->sender_mac() &&
              b->sender_ip() == a->sender_ip() && b->target_mac() == a->target_mac() &&
              b->target_ip() == a->target_ip(),
          "arp round trip mismatch");
  } else {
    check_reason(a);
  }
  if (auto a = w::parse_arp(in)) touch(*a);
  for (bool verify : {true, false}) {
    if (auto ip = w::parse_ipv4(in, verify)) {
      touch(*ip);
      check(inside(ip->bytes(), in), "ipv4 view outside input");
    } else {
      check_reason(ip);
    }
  }
  if (auto t = w::parse_tcp(in)) {
    touch(*t);
    check(inside(t->payload(), in), "tcp payload outside input");
    (void)w::parse_tcp_options(t->options());
  }
  if (auto o = w::parse_tcp_options(in)) {
    std::uint8_t buf[w::kTcpMaxOptionsLen];
    const std::size_t n = w::write_tcp_options(buf, *o);
    check(n == w::tcp_options_length(*o), "options length");
    const auto again = w::parse_tcp_options(std::span<const std::uint8_t>(buf, n));
    check(again.ok() && *again == *o, "options round trip mismatch");
  } else {
    check_reason(o);
  }

  for (w::Checksums c : {w::kNoChecksums, w::kAllChecksums}) {
    if (auto s = w::parse_segment(in, c)) {
      check(inside(s->payload, in), "segment payload outside input");
      round_trip(*s, /*with_l2=*/true);
    } else {
      check_reason(s);
    }
    if (auto s = w::parse_ip_segment(in, c)) {
      check(inside(s->payload, in), "segment payload outside input");
      round_trip(*s, /*with_l2=*/false);
    }
  }

  if (size >= 4) {
    const std::uint32_t a = w::load_be32(data);
    const std::uint32_t b = a + 0x80000000u;
    check(w::seq_before(a, b) && w::seq_before(b, a), "2^31 rule");
    g_sink = w::ones_sum(in);
  }
  return 0;
}
