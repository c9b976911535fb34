#include "wire/ipv4.hpp"

#include "wire/checksum.hpp"

namespace twtcp::wire {

Parsed<Ipv4View> parse_ipv4(std::span<const std::uint8_t> packet, bool verify_checksum) noexcept {
  using R = Parsed<Ipv4View>;
  if (packet.size() < kIpv4MinHeaderLen) return R::fail(ParseError::kIpv4Truncated);
  if ((packet[0] >> 4) != 4) return R::fail(ParseError::kIpv4BadVersion);
  const std::size_t hlen = std::size_t{packet[0] & 0x0fu} * 4;
  if (hlen < kIpv4MinHeaderLen) return R::fail(ParseError::kIpv4BadIhl);
  if (hlen > packet.size()) return R::fail(ParseError::kIpv4HeaderPastBuffer);
  const std::size_t total = load_be16(&packet[2]);
  if (total < hlen) return R::fail(ParseError::kIpv4BadTotalLength);
  if (total > packet.size()) return R::fail(ParseError::kIpv4TotalLengthPastBuffer);
  // Checksum before the fragment test, so a corrupted header is reported as corrupted.
  if (verify_checksum && ones_sum(packet.first(hlen)) != 0xffff) {
    return R::fail(ParseError::kIpv4BadChecksum);
  }
  const std::uint16_t frag = load_be16(&packet[6]);
  if ((frag & 0x2000) != 0 || (frag & 0x1fff) != 0) return R::fail(ParseError::kIpv4Fragment);
  return {Ipv4View(packet.first(total)), ParseError::kOk};
}

std::size_t write_ipv4(std::span<std::uint8_t> out, const Ipv4Fields& f, std::uint16_t total_length,
                       bool compute_checksum) noexcept {
  if (out.size() < kIpv4MinHeaderLen || total_length < kIpv4MinHeaderLen) return 0;
  std::uint8_t* p = out.data();
  p[0] = 0x45;
  p[1] = f.tos;
  store_be16(p + 2, total_length);
  store_be16(p + 4, f.id);
  store_be16(p + 6, f.dont_fragment ? 0x4000 : 0);
  p[8] = f.ttl;
  p[9] = f.protocol;
  store_be16(p + 10, 0);
  store_be32(p + 12, f.src);
  store_be32(p + 16, f.dst);
  if (compute_checksum) {
    // Summed from the field values, not read back from `out`: a frame being built in an mbuf
    // whose lines are still in flight from another core would make that read wait for them
    // (and for the stores just made, which wide loads cannot forward from).
    std::uint64_t sum = (0x4500u | f.tos) + total_length + f.id + (f.dont_fragment ? 0x4000u : 0u) +
                        ((std::uint32_t{f.ttl} << 8) | f.protocol) + (f.src >> 16) +
                        (f.src & 0xffff) + (f.dst >> 16) + (f.dst & 0xffff);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    store_be16(p + 10, static_cast<std::uint16_t>(~sum));
  }
  return kIpv4MinHeaderLen;
}

}  // namespace twtcp::wire
