#include "wire/segment.hpp"

#include <array>
#include <cstring>
#include <functional>

#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"

namespace twtcp::wire {

Parsed<SegmentView> parse_ip_segment(std::span<const std::uint8_t> packet,
                                     Checksums verify) noexcept {
  using R = Parsed<SegmentView>;
  const auto ip = parse_ipv4(packet, verify.ipv4);
  if (!ip) return R::fail(ip.error);
  if (ip->protocol() != kIpProtoTcp) return R::fail(ParseError::kNotTcp);
  const auto tcp = parse_tcp(ip->payload());
  if (!tcp) return R::fail(tcp.error);
  const auto opts = parse_tcp_options(tcp->options());
  if (!opts) return R::fail(opts.error);
  if (verify.tcp && !tcp_checksum_ok(ip->src(), ip->dst(), tcp->bytes())) {
    return R::fail(ParseError::kTcpBadChecksum);
  }
  // Filled in place and returned by NRVO: SegmentView is ~100 bytes and this is per packet.
  R r;
  SegmentView& s = r.value;
  s.src_addr = ip->src();
  s.dst_addr = ip->dst();
  s.ttl = ip->ttl();
  s.tos = ip->tos();
  s.ip_id = ip->id();
  s.src_port = tcp->src_port();
  s.dst_port = tcp->dst_port();
  s.seq = tcp->seq();
  s.ack = tcp->ack();
  s.flags = tcp->flags();
  s.window = tcp->window();
  s.urgent = tcp->urgent();
  s.options = *opts;
  s.payload = tcp->payload();
  return r;
}

Parsed<SegmentView> parse_segment(std::span<const std::uint8_t> frame, Checksums verify) noexcept {
  using R = Parsed<SegmentView>;
  const auto eth = parse_ethernet(frame);
  if (!eth) return R::fail(eth.error);
  if (eth->ethertype() != kEtherTypeIpv4) return R::fail(ParseError::kNotIpv4);
  auto seg = parse_ip_segment(eth->payload(), verify);
  if (seg) {
    seg.value.eth_src = eth->src();
    seg.value.eth_dst = eth->dst();
  }
  return seg;
}

std::size_t build_ip_segment(std::span<std::uint8_t> out, const SegmentSpec& spec,
                             std::span<const std::uint8_t> payload, Checksums compute) noexcept {
  const std::size_t hlen = ip_segment_header_length(spec);
  const std::size_t total = hlen + payload.size();
  if (total > 0xffff || out.size() < total) return 0;
  // Payload first: it may overlap the header area if the caller staged it oddly, and
  // memmove is a no-op-equivalent when it is already in place.
  if (!payload.empty() && payload.data() != out.data() + hlen) {
    std::memmove(out.data() + hlen, payload.data(), payload.size());
  }
  const Ipv4Fields ipf{spec.src_addr, spec.dst_addr, kIpProtoTcp,       spec.ttl,
                       spec.tos,      spec.ip_id,    spec.dont_fragment};
  write_ipv4(out, ipf, static_cast<std::uint16_t>(total), compute.ipv4);
  // The TCP header is built and summed in a local buffer, the payload summed where it came
  // from, and the frame only written, never read back: the frame is usually an mbuf whose
  // lines are still on their way from the core that last read it, and summing it would stall
  // on them. The header's length is a multiple of 4, so the payload starts on a 16-bit word
  // and the two sums add.
  const std::size_t tcp_hlen = hlen - kIpv4MinHeaderLen;
  std::array<std::uint8_t, 60> header;  // the largest TCP header (data offset 15)
  write_tcp_header(std::span(header.data(), tcp_hlen), spec.tcp);
  const auto tcp_len = static_cast<std::uint16_t>(total - kIpv4MinHeaderLen);
  std::uint16_t csum = tcp_pseudo_header_sum(spec.src_addr, spec.dst_addr, tcp_len);
  if (compute.tcp) {
    // A source that overlapped the frame may have been overwritten by the memmove above
    // (or is the frame's payload already): then sum the frame's copy.
    const std::less<const std::uint8_t*> before;  // a total order, unlike < across objects
    const bool in_frame = before(payload.data(), out.data() + total) &&
                          before(out.data(), payload.data() + payload.size());
    const auto summed =
        in_frame ? std::span<const std::uint8_t>(out.subspan(hlen, payload.size())) : payload;
    csum = static_cast<std::uint16_t>(
        ~ones_sum(std::span(header.data(), tcp_hlen), ones_sum(summed, csum)));
  }
  store_be16(header.data() + 16, csum);
  std::memcpy(out.data() + kIpv4MinHeaderLen, header.data(), tcp_hlen);
  return total;
}

std::size_t build_segment(std::span<std::uint8_t> out, const SegmentSpec& spec,
                          std::span<const std::uint8_t> payload, Checksums compute) noexcept {
  if (out.size() < kEthernetHeaderLen) return 0;
  const std::size_t n = build_ip_segment(out.subspan(kEthernetHeaderLen), spec, payload, compute);
  if (n == 0) return 0;
  write_ethernet(out, spec.eth_dst, spec.eth_src, kEtherTypeIpv4);
  return kEthernetHeaderLen + n;
}

}  // namespace twtcp::wire
