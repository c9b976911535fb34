// lib/sim/timeline.cpp: tcpdump-style formatting (print-tcp.c's field order and spelling).
#include "sim/timeline.hpp"

#include <cinttypes>
#include <cstdio>
#include <utility>

#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace twtcp::sim {
namespace {

void append_addr(std::string& s, std::uint32_t a) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff,
                a & 0xff);
  s += buf;
}

template <class... A>
void appendf(std::string& s, const char* fmt, A... args) {
  char buf[96];
  const int n = std::snprintf(buf, sizeof buf, fmt, args...);
  if (n > 0) s.append(buf, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof buf - 1));
}

// tcpdump's tcp_flag_values order; ACK prints as '.'.
std::string flag_string(std::uint8_t f) {
  namespace tf = wire::tcp_flags;
  static constexpr std::pair<std::uint8_t, char> kOrder[] = {
      {tf::kFin, 'F'}, {tf::kSyn, 'S'}, {tf::kRst, 'R'}, {tf::kPsh, 'P'},
      {tf::kAck, '.'}, {tf::kUrg, 'U'}, {tf::kEce, 'E'}, {tf::kCwr, 'W'}};
  std::string s;
  for (auto [bit, c] : kOrder) {
    if (f & bit) s += c;
  }
  return s.empty() ? "none" : s;
}

// The raw option list as tcpdump prints it. Lengths were validated by parse_tcp_options only
// for known kinds, so walk defensively and stop at anything that does not fit.
std::string option_string(std::span<const std::uint8_t> o) {
  namespace k = wire::tcp_option;
  std::string s;
  std::size_t i = 0;
  auto sep = [&] {
    if (!s.empty()) s += ',';
  };
  while (i < o.size()) {
    const std::uint8_t kind = o[i];
    sep();
    if (kind == k::kEol) {
      s += "eol";
      break;
    }
    if (kind == k::kNop) {
      s += "nop";
      ++i;
      continue;
    }
    if (i + 1 >= o.size() || o[i + 1] < 2 || i + o[i + 1] > o.size()) {
      s += "[bad opt]";
      break;
    }
    const std::size_t len = o[i + 1];
    const std::uint8_t* p = o.data() + i;
    if (kind == k::kMss && len == 4) {
      appendf(s, "mss %u", unsigned{wire::load_be16(p + 2)});
    } else if (kind == k::kWindowScale && len == 3) {
      appendf(s, "wscale %u", unsigned{p[2]});
    } else if (kind == k::kSackPermitted && len == 2) {
      s += "sackOK";
    } else if (kind == k::kTimestamps && len == 10) {
      appendf(s, "TS val %u ecr %u", unsigned{wire::load_be32(p + 2)},
              unsigned{wire::load_be32(p + 6)});
    } else if (kind == k::kSack && (len - 2) % 8 == 0) {
      appendf(s, "sack %zu", (len - 2) / 8);
      for (std::size_t b = 2; b < len; b += 8) {
        appendf(s, " {%u:%u}", unsigned{wire::load_be32(p + b)},
                unsigned{wire::load_be32(p + b + 4)});
      }
    } else {
      appendf(s, "opt-%u:len %zu", unsigned{kind}, len);
    }
    i += len;
  }
  return s;
}

}  // namespace

std::string format_time(std::uint64_t us) {
  std::string s;
  appendf(s, "%" PRIu64 ".%06" PRIu64, us / 1'000'000, us % 1'000'000);
  return s;
}

std::string format_frame(std::span<const std::uint8_t> frame) {
  std::string s;
  auto eth = wire::parse_ethernet(frame);
  if (!eth) {
    appendf(s, "[malformed: %s] length %zu", eth.why(), frame.size());
    return s;
  }
  if (eth->ethertype() != wire::kEtherTypeIpv4) {
    appendf(s, "ethertype 0x%04x, length %zu", unsigned{eth->ethertype()}, frame.size());
    return s;
  }
  auto ip = wire::parse_ipv4(eth->payload(), /*verify_checksum=*/false);
  if (!ip) {
    appendf(s, "[malformed: %s] length %zu", ip.why(), frame.size());
    return s;
  }
  const bool ip_ok = wire::internet_checksum(ip->bytes().first(ip->header_length())) == 0;
  if (ip->protocol() != wire::kIpProtoTcp) {
    append_addr(s, ip->src());
    s += " > ";
    append_addr(s, ip->dst());
    appendf(s, ": ip-proto-%u %zu", unsigned{ip->protocol()}, ip->payload().size());
    if (!ip_ok) s += " [bad ip cksum]";
    return s;
  }
  auto tcp = wire::parse_tcp(ip->payload());
  if (!tcp) {
    append_addr(s, ip->src());
    s += " > ";
    append_addr(s, ip->dst());
    appendf(s, ": [malformed: %s] length %zu", tcp.why(), ip->payload().size());
    return s;
  }
  const auto& t = *tcp;
  const std::uint8_t f = t.flags();
  const std::size_t len = t.payload().size();
  append_addr(s, ip->src());
  appendf(s, ".%u > ", unsigned{t.src_port()});
  append_addr(s, ip->dst());
  appendf(s, ".%u: Flags [%s]", unsigned{t.dst_port()}, flag_string(f).c_str());
  namespace tf = wire::tcp_flags;
  if (len > 0 || (f & (tf::kSyn | tf::kFin | tf::kRst))) {
    appendf(s, ", seq %u", unsigned{t.seq()});
    if (len > 0) appendf(s, ":%u", unsigned{t.seq() + static_cast<std::uint32_t>(len)});
  }
  if (f & tf::kAck) appendf(s, ", ack %u", unsigned{t.ack()});
  appendf(s, ", win %u", unsigned{t.window()});
  if (f & tf::kUrg) appendf(s, ", urg %u", unsigned{t.urgent()});
  if (!t.options().empty()) s += ", options [" + option_string(t.options()) + "]";
  appendf(s, ", length %zu", len);
  if (!ip_ok || !wire::tcp_checksum_ok(ip->src(), ip->dst(), t.bytes())) s += " [bad cksum]";
  return s;
}

void Timeline::push(std::string line) {
  if (echo_ != nullptr) *echo_ << line << '\n';
  lines_.push_back(std::move(line));
}

void Timeline::record(std::uint64_t now_us, std::span<const std::uint8_t> frame,
                      std::string_view note) {
  std::string line = format_time(now_us) + " " + format_frame(frame);
  if (!note.empty()) {
    line += " [";
    line += note;
    line += ']';
  }
  push(std::move(line));
}

void Timeline::note(std::uint64_t now_us, std::string_view text) {
  std::string line = format_time(now_us) + " ";
  line += text;
  push(std::move(line));
}

std::string Timeline::str() const {
  std::string out;
  for (const auto& l : lines_) {
    out += l;
    out += '\n';
  }
  return out;
}

void Tap::receive(int /*port*/, std::span<const std::uint8_t> frame, std::uint64_t now_us) {
  timeline_.record(now_us, frame, label_);
  if (next_ != nullptr) next_->receive(next_port_, frame, now_us);
}

}  // namespace twtcp::sim
