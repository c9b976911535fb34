#include "wire/error.hpp"

namespace twtcp::wire {

const char* reason(ParseError e) noexcept {
  switch (e) {
    case ParseError::kOk:
      return "ok";
    case ParseError::kEthernetTruncated:
      return "ethernet: frame shorter than 14 bytes";
    case ParseError::kNotIpv4:
      return "ethernet: ethertype is not IPv4";
    case ParseError::kNotArp:
      return "ethernet: ethertype is not ARP";
    case ParseError::kArpTruncated:
      return "arp: packet shorter than 28 bytes";
    case ParseError::kArpUnsupported:
      return "arp: not ethernet/IPv4 (htype, ptype, hlen, plen)";
    case ParseError::kArpBadOpcode:
      return "arp: opcode is neither request nor reply";
    case ParseError::kIpv4Truncated:
      return "ipv4: packet shorter than 20 bytes";
    case ParseError::kIpv4BadVersion:
      return "ipv4: version is not 4";
    case ParseError::kIpv4BadIhl:
      return "ipv4: header length (IHL) below 5 words";
    case ParseError::kIpv4HeaderPastBuffer:
      return "ipv4: header length runs past the buffer";
    case ParseError::kIpv4BadTotalLength:
      return "ipv4: total length smaller than the header";
    case ParseError::kIpv4TotalLengthPastBuffer:
      return "ipv4: total length runs past the buffer";
    case ParseError::kIpv4BadChecksum:
      return "ipv4: bad header checksum";
    case ParseError::kIpv4Fragment:
      return "ipv4: fragment (MF or offset set), not reassembled";
    case ParseError::kNotTcp:
      return "ipv4: protocol is not TCP";
    case ParseError::kTcpTruncated:
      return "tcp: segment shorter than 20 bytes";
    case ParseError::kTcpBadDataOffset:
      return "tcp: data offset below 5 words";
    case ParseError::kTcpDataOffsetPastSegment:
      return "tcp: data offset runs past the segment";
    case ParseError::kTcpBadChecksum:
      return "tcp: bad checksum";
    case ParseError::kTcpOptionLengthTooSmall:
      return "tcp option: length 0 or 1";
    case ParseError::kTcpOptionPastHeader:
      return "tcp option: runs past the header";
    case ParseError::kTcpOptionBadLength:
      return "tcp option: wrong length for MSS, window scale, SACK-permitted or timestamps";
    case ParseError::kTcpOptionDuplicate:
      return "tcp option: duplicate MSS, WS, SACK-permitted or TS";
  }
  return "unknown parse error";
}

}  // namespace twtcp::wire
