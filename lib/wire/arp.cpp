#include "wire/arp.hpp"

#include "wire/ethernet.hpp"

namespace twtcp::wire {

Parsed<ArpView> parse_arp(std::span<const std::uint8_t> body) noexcept {
  using R = Parsed<ArpView>;
  if (body.size() < kArpLen) return R::fail(ParseError::kArpTruncated);
  if (load_be16(&body[0]) != 1 || load_be16(&body[2]) != kEtherTypeIpv4 || body[4] != 6 ||
      body[5] != 4) {
    return R::fail(ParseError::kArpUnsupported);
  }
  const std::uint16_t op = load_be16(&body[6]);
  if (op != 1 && op != 2) return R::fail(ParseError::kArpBadOpcode);
  return {ArpView(body.first(kArpLen)), ParseError::kOk};
}

Parsed<ArpView> parse_arp_frame(std::span<const std::uint8_t> frame) noexcept {
  auto eth = parse_ethernet(frame);
  if (!eth) return Parsed<ArpView>::fail(eth.error);
  if (eth->ethertype() != kEtherTypeArp) return Parsed<ArpView>::fail(ParseError::kNotArp);
  return parse_arp(eth->payload());
}

std::size_t build_arp_frame(std::span<std::uint8_t> out, const ArpFields& f) noexcept {
  if (out.size() < kEthernetHeaderLen + kArpLen) return 0;
  const MacAddr& eth_dst = f.op == ArpOp::kRequest ? kBroadcastMac : f.target_mac;
  write_ethernet(out, eth_dst, f.sender_mac, kEtherTypeArp);
  std::uint8_t* p = out.data() + kEthernetHeaderLen;
  store_be16(p, 1);
  store_be16(p + 2, kEtherTypeIpv4);
  p[4] = 6;
  p[5] = 4;
  store_be16(p + 6, static_cast<std::uint16_t>(f.op));
  store_mac(p + 8, f.sender_mac);
  store_be32(p + 14, f.sender_ip);
  store_mac(p + 18, f.target_mac);
  store_be32(p + 24, f.target_ip);
  return kEthernetHeaderLen + kArpLen;
}

}  // namespace twtcp::wire
