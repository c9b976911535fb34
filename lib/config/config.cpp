// lib/config/config.cpp: the key registry (one row per key) and the sysctl.conf
// parser and printer that read it. See twtcp/config.hpp for the contract.
#include "twtcp/config.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

namespace twtcp {
namespace {

constexpr std::int64_t kIntMax = std::numeric_limits<std::int32_t>::max();
// Largest timer wheel span, log2 of ticks (see the timer_levels rule in check_cross_keys).
constexpr std::int64_t kTimerMaxSpanBits = 48;

// ---------------------------------------------------------------- enum names

template <class E>
using NameTable = std::span<const std::pair<std::string_view, E>>;

constexpr std::pair<std::string_view, KernelModel> kModelNames[] = {
    {"3.10", KernelModel::V3_10}, {"4.4", KernelModel::V4_4},   {"4.19", KernelModel::V4_19},
    {"6.6", KernelModel::V6_6},   {"6.18", KernelModel::V6_18},
};
constexpr std::pair<std::string_view, ReuseTimeRule> kReuseRuleNames[] = {
    {"sec_gt1", ReuseTimeRule::kSecGt1},
    {"sec_gt0", ReuseTimeRule::kSecGt0},
    {"ms_delay", ReuseTimeRule::kMsDelay},
};
constexpr std::pair<std::string_view, TsOffset> kTsOffsetNames[] = {
    {"none", TsOffset::kNone},
    {"per_host", TsOffset::kPerHost},
    {"per_conn", TsOffset::kPerConn},
};
constexpr std::pair<std::string_view, PortSelect> kPortSelectNames[] = {
    {"alg3", PortSelect::kAlg3},
    {"alg4", PortSelect::kAlg4Perturb},
};
constexpr std::pair<std::string_view, PawsCounter> kPawsCounterNames[] = {
    {"PAWSEstab", PawsCounter::kPawsEstab},
    {"PAWSTimewait", PawsCounter::kPawsTimewait},
};
constexpr std::pair<std::string_view, ChecksumOffload> kChecksumOffloadNames[] = {
    {"auto", ChecksumOffload::kAuto},
    {"off", ChecksumOffload::kOff},
};

template <class E, std::size_t N>
std::string_view name_of(const std::pair<std::string_view, E> (&table)[N], E v) {
  for (const auto& [name, value] : table) {
    if (value == v) return name;
  }
  return "?";
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// ---------------------------------------------------------------- text helpers

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Whitespace-separated tokens (sysctl writes multi-int values with a tab).
std::vector<std::string_view> split_ws(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i])) ++i;
    std::size_t j = i;
    while (j < s.size() && !is_space(s[j])) ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

// Input echoed into an error message stays on one printable line.
std::string quote(std::string_view s) {
  constexpr std::size_t kMax = 80;
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < kMax; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (s.size() > kMax) out += "...";
  return out;
}

enum class NumError { kOk, kSyntax, kRange };

// The whole token must be a decimal integer: "12abc", "", "+1", "0x10" are rejected.
NumError parse_i64(std::string_view s, std::int64_t& out) {
  if (s.empty()) return NumError::kSyntax;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec == std::errc::result_out_of_range) return NumError::kRange;
  if (ec != std::errc{} || p != s.data() + s.size()) return NumError::kSyntax;
  return NumError::kOk;
}

std::string range_text(std::int64_t lo, std::int64_t hi) {
  return std::to_string(lo) + ".." + std::to_string(hi);
}

std::string out_of_range(const KeyInfo& k) {
  return "out of range (allowed " + k.allowed() + ")";
}
std::string not_integer(const KeyInfo& k) {
  return "not an integer (allowed " + k.allowed() + ")";
}

// One integer token checked against [lo, hi]; reason on failure.
std::string int_in(std::string_view tok, std::int64_t lo, std::int64_t hi, const KeyInfo& k,
                   std::int64_t& out) {
  switch (parse_i64(tok, out)) {
    case NumError::kSyntax:
      return tok.empty() ? "empty value (allowed " + k.allowed() + ")" : not_integer(k);
    case NumError::kRange:
      return out_of_range(k);
    case NumError::kOk:
      break;
  }
  if (out < lo || out > hi) return out_of_range(k);
  return {};
}

// ---------------------------------------------------------------- row factories

template <class T>
struct MemberOf;
template <class C, class T>
struct MemberOf<T C::*> {
  using type = T;
};
template <auto M>
using FieldT = typename MemberOf<decltype(M)>::type;

struct Row {
  std::string_view name, unit, doc, section;
};

using ParseFn = std::string (*)(Config&, std::string_view, const KeyInfo&);
using FormatFn = std::string (*)(const Config&);
using ResolvedFn = std::string (*)(const EffectivePolicy&);

constexpr KeyInfo make_key(Row r, KeyType type, std::int64_t lo, std::int64_t hi, ParseFn parse,
                           FormatFn format, ResolvedFn resolved = nullptr,
                           std::string_view choices = {}) {
  return KeyInfo{.name = r.name,
                 .type = type,
                 .min = lo,
                 .max = hi,
                 .choices = choices,
                 .unit = r.unit,
                 .doc = r.doc,
                 .section = r.section,
                 // (not `resolved != nullptr`: under ASan that is not a constant expression)
                 .accepts_auto = false,
                 .power_of_two = false,
                 .parse = parse,
                 .format = format,
                 .resolved = resolved};
}

template <auto M>
std::string parse_int(Config& c, std::string_view v, const KeyInfo& k) {
  std::int64_t x = 0;
  if (auto err = int_in(v, k.min, k.max, k, x); !err.empty()) return err;
  if (k.power_of_two && (x & (x - 1)) != 0)
    return "not a power of two (allowed " + k.allowed() + ")";
  c.*M = static_cast<FieldT<M>>(x);
  return {};
}
template <auto M>
std::string format_int(const Config& c) {
  return std::to_string(c.*M);
}
template <auto M>
constexpr KeyInfo int_key(Row r, std::int64_t lo, std::int64_t hi, bool pow2 = false) {
  KeyInfo k = make_key(r, KeyType::kInt, lo, hi, &parse_int<M>, &format_int<M>);
  k.power_of_two = pow2;
  return k;
}

template <auto M>
std::string parse_u64(Config& c, std::string_view v, const KeyInfo& k) {
  std::uint64_t x = 0;
  if (v.empty()) return "empty value (allowed " + k.allowed() + ")";
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec == std::errc::result_out_of_range) return out_of_range(k);
  if (ec != std::errc{} || p != v.data() + v.size()) return not_integer(k);
  c.*M = x;
  return {};
}
template <auto M>
constexpr KeyInfo u64_key(Row r) {
  return make_key(r, KeyType::kUint64, 0, 0, &parse_u64<M>, &format_int<M>);
}

template <auto M>
std::string parse_bool(Config& c, std::string_view v, const KeyInfo& k) {
  std::int64_t x = 0;
  if (auto err = int_in(v, 0, 1, k, x); !err.empty()) return err;
  c.*M = x != 0;
  return {};
}
template <auto M>
std::string format_bool(const Config& c) {
  return (c.*M) ? "1" : "0";
}
template <auto M>
constexpr KeyInfo bool_key(Row r) {
  return make_key(r, KeyType::kBool, 0, 1, &parse_bool<M>, &format_bool<M>);
}

// "auto", or a value parsed by the plain parser of the same field type.
template <auto M>
std::string parse_opt_bool(Config& c, std::string_view v, const KeyInfo& k) {
  if (iequals(v, "auto")) {
    c.*M = std::nullopt;
    return {};
  }
  if (v == "0" || v == "1") {
    c.*M = v == "1";
    return {};
  }
  return "invalid value (allowed " + k.allowed() + ")";
}
template <auto M>
std::string format_opt_bool(const Config& c) {
  const auto& o = c.*M;
  return !o ? "auto" : (*o ? "1" : "0");
}
template <auto M, auto EM>
std::string resolved_bool(const EffectivePolicy& e) {
  if constexpr (std::is_same_v<std::remove_cvref_t<decltype(e.*EM)>, bool>) {
    return (e.*EM) ? "1" : "0";
  } else {  // an interval that is on when nonzero (oow_ack_ratelimit_ms)
    return (e.*EM) != 0 ? "1 (" + std::to_string(e.*EM) + " ms)" : "0";
  }
}
template <auto M, auto EM>
constexpr KeyInfo opt_bool_key(Row r) {
  KeyInfo k = make_key(r, KeyType::kBool, 0, 1, &parse_opt_bool<M>, &format_opt_bool<M>,
                       &resolved_bool<M, EM>, "auto|0|1");
  k.accepts_auto = true;
  return k;
}

template <auto M>
std::string parse_opt_int(Config& c, std::string_view v, const KeyInfo& k) {
  if (iequals(v, "auto")) {
    c.*M = std::nullopt;
    return {};
  }
  std::int64_t x = 0;
  if (auto err = int_in(v, k.min, k.max, k, x); !err.empty()) return err;
  c.*M = static_cast<typename FieldT<M>::value_type>(x);
  return {};
}
template <auto M>
std::string format_opt_int(const Config& c) {
  const auto& o = c.*M;
  return o ? std::to_string(*o) : "auto";
}
template <auto M, auto EM>
std::string resolved_int(const EffectivePolicy& e) {
  return std::to_string(e.*EM);
}
template <auto M, auto EM>
constexpr KeyInfo opt_int_key(Row r, std::int64_t lo, std::int64_t hi) {
  KeyInfo k = make_key(r, KeyType::kInt, lo, hi, &parse_opt_int<M>, &format_opt_int<M>,
                       &resolved_int<M, EM>);
  k.accepts_auto = true;
  return k;
}

template <class E, std::size_t N>
bool lookup_name(const std::pair<std::string_view, E> (&table)[N], std::string_view v, E& out) {
  for (const auto& [name, value] : table) {
    if (iequals(name, v)) {
      out = value;
      return true;
    }
  }
  return false;
}

template <auto M, const auto& Names>
std::string parse_enum(Config& c, std::string_view v, const KeyInfo& k) {
  FieldT<M> x{};
  if (!lookup_name(Names, v, x)) return "invalid value (allowed " + k.allowed() + ")";
  c.*M = x;
  return {};
}
template <auto M, const auto& Names>
std::string format_enum(const Config& c) {
  return std::string(name_of(Names, c.*M));
}
template <auto M, const auto& Names>
constexpr KeyInfo enum_key(Row r, std::string_view choices) {
  return make_key(r, KeyType::kEnum, 0, 0, &parse_enum<M, Names>, &format_enum<M, Names>, nullptr,
                  choices);
}

template <auto M, const auto& Names>
std::string parse_opt_enum(Config& c, std::string_view v, const KeyInfo& k) {
  if (iequals(v, "auto")) {
    c.*M = std::nullopt;
    return {};
  }
  typename FieldT<M>::value_type x{};
  if (!lookup_name(Names, v, x)) return "invalid value (allowed " + k.allowed() + ")";
  c.*M = x;
  return {};
}
template <auto M, const auto& Names>
std::string format_opt_enum(const Config& c) {
  const auto& o = c.*M;
  return o ? std::string(name_of(Names, *o)) : "auto";
}
template <auto EM, const auto& Names>
std::string resolved_enum(const EffectivePolicy& e) {
  return std::string(name_of(Names, e.*EM));
}
template <auto M, auto EM, const auto& Names>
constexpr KeyInfo opt_enum_key(Row r, std::string_view choices) {
  KeyInfo k = make_key(r, KeyType::kEnum, 0, 0, &parse_opt_enum<M, Names>,
                       &format_opt_enum<M, Names>, &resolved_enum<EM, Names>, choices);
  k.accepts_auto = true;
  return k;
}

template <auto M>
std::string parse_port_range(Config& c, std::string_view v, const KeyInfo& k) {
  auto toks = split_ws(v);
  if (toks.size() != 2) return "expected two ports 'low high' (allowed " + k.allowed() + ")";
  std::int64_t lo = 0, hi = 0;
  if (auto err = int_in(toks[0], k.min, k.max, k, lo); !err.empty()) return err;
  if (auto err = int_in(toks[1], k.min, k.max, k, hi); !err.empty()) return err;
  if (lo > hi) return "low port above high port (allowed " + k.allowed() + ")";
  c.*M = PortRange{static_cast<std::uint16_t>(lo), static_cast<std::uint16_t>(hi)};
  return {};
}
template <auto M>
std::string format_port_range(const Config& c) {
  // A tab between the two, as `sysctl net.ipv4.ip_local_port_range` prints it.
  return std::to_string((c.*M).low) + "\t" + std::to_string((c.*M).high);
}
template <auto M>
constexpr KeyInfo port_range_key(Row r) {
  return make_key(r, KeyType::kPortRange, 1, 65535, &parse_port_range<M>, &format_port_range<M>);
}

template <auto M>
std::string parse_port_list_field(Config& c, std::string_view v, const KeyInfo& k) {
  PortListParse r = parse_port_list(v);
  if (!r.ok()) {
    return std::string(r.why()) + " at offset " + std::to_string(r.error_offset) + " (allowed " +
           k.allowed() + ")";
  }
  c.*M = std::move(r.ranges);
  return {};
}
template <auto M>
std::string format_port_list_field(const Config& c) {
  return format_port_list(c.*M);
}
template <auto M>
constexpr KeyInfo port_list_key(Row r) {
  return make_key(r, KeyType::kPortList, 0, 65535, &parse_port_list_field<M>,
                  &format_port_list_field<M>);
}

template <auto M>
std::string parse_triple(Config& c, std::string_view v, const KeyInfo& k) {
  auto toks = split_ws(v);
  if (toks.size() != 3) {
    return "expected three integers 'min default max' (allowed " + k.allowed() + ")";
  }
  std::int64_t x[3];
  for (int i = 0; i < 3; ++i) {
    if (auto err = int_in(toks[i], k.min, k.max, k, x[i]); !err.empty()) return err;
  }
  if (x[0] > x[1] || x[1] > x[2]) return "not ordered (allowed " + k.allowed() + ")";
  c.*M = BufSizes{static_cast<std::int32_t>(x[0]), static_cast<std::int32_t>(x[1]),
                  static_cast<std::int32_t>(x[2])};
  return {};
}
template <auto M>
std::string format_triple(const Config& c) {
  const BufSizes& b = c.*M;
  return std::to_string(b.min) + "\t" + std::to_string(b.def) + "\t" + std::to_string(b.max);
}
template <auto M>
constexpr KeyInfo triple_key(Row r) {
  return make_key(r, KeyType::kTriple, 1, kIntMax, &parse_triple<M>, &format_triple<M>);
}

// ---------------------------------------------------------------- the registry

constexpr std::string_view kSysctl = "Linux sysctls (net.ipv4.*)";
constexpr std::string_view kConst = "TIME_WAIT and PAWS constants Linux compiles in";
constexpr std::string_view kModel =
    "Kernel model, and the behaviour it selects (auto = from the model)";
constexpr std::string_view kTimers = "Timers, RTO, segment size, randomness";
constexpr std::string_view kTables = "Table sizes (fixed at start)";
constexpr std::string_view kPort = "The DPDK port";

using C = Config;
using E = EffectivePolicy;

constexpr KeyInfo kKeys[] = {
    // clang-format off
    int_key<&C::tcp_tw_reuse>({"net.ipv4.tcp_tw_reuse", "",
        "reuse a TIME_WAIT 4-tuple for connect(): 0 off, 1 all destinations, 2 loopback only", kSysctl}, 0, 2),
    int_key<&C::tcp_tw_reuse_delay>({"net.ipv4.tcp_tw_reuse_delay", "ms",
        "time after TIME_WAIT entry before tw_reuse may take the 4-tuple (reuse rule ms_delay)", kSysctl}, 1, 60000),
    bool_key<&C::tcp_tw_recycle>({"net.ipv4.tcp_tw_recycle", "",
        "per-host PAWS cache and 3.5*RTO TIME_WAIT; only kernel_model 3.10 and 4.4 have it", kSysctl}),
    int_key<&C::tcp_timestamps>({"net.ipv4.tcp_timestamps", "",
        "0 off, 1 on with per-connection offsets (twtcp.ts_offset), 2 on without offsets", kSysctl}, 0, 2),
    int_key<&C::tcp_max_tw_buckets>({"net.ipv4.tcp_max_tw_buckets", "",
        "TIME_WAIT entries at once; beyond it close without TIME_WAIT (TCPTimeWaitOverflow)", kSysctl}, 0, kIntMax),
    bool_key<&C::tcp_rfc1337>({"net.ipv4.tcp_rfc1337", "",
        "1: an RST does not kill TIME_WAIT (RFC 1337 assassination protection)", kSysctl}),
    int_key<&C::tcp_fin_timeout>({"net.ipv4.tcp_fin_timeout", "s",
        "orphaned FIN_WAIT2 lifetime (floored at 3.5*RTO)", kSysctl}, 0, kIntMax),
    port_range_key<&C::ip_local_port_range>({"net.ipv4.ip_local_port_range", "",
        "ephemeral ports for connect(): low high", kSysctl}),
    port_list_key<&C::ip_local_reserved_ports>({"net.ipv4.ip_local_reserved_ports", "",
        "ports autobind never picks, e.g. 8080,9000-9010 (empty: none)", kSysctl}),
    int_key<&C::tcp_syn_retries>({"net.ipv4.tcp_syn_retries", "",
        "SYN retransmissions of an active open", kSysctl}, 1, 127),
    int_key<&C::tcp_synack_retries>({"net.ipv4.tcp_synack_retries", "",
        "SYN-ACK retransmissions of a passive open", kSysctl}, 0, 255),
    int_key<&C::tcp_syncookies>({"net.ipv4.tcp_syncookies", "",
        "0 off, 1 when the SYN queue overflows, 2 always", kSysctl}, 0, 2),
    int_key<&C::tcp_invalid_ratelimit>({"net.ipv4.tcp_invalid_ratelimit", "ms",
        "at most one out-of-window/PAWS/challenge ACK per this interval per socket", kSysctl}, 0, kIntMax),
    int_key<&C::tcp_challenge_ack_limit>({"net.ipv4.tcp_challenge_ack_limit", "",
        "RFC 5961 challenge ACKs per second, stack-wide", kSysctl}, 0, kIntMax),
    int_key<&C::tcp_retries2>({"net.ipv4.tcp_retries2", "",
        "data retransmissions before a connection is aborted", kSysctl}, 0, 255),
    int_key<&C::tcp_orphan_retries>({"net.ipv4.tcp_orphan_retries", "",
        "retransmissions of orphaned sockets (0 = 8 if the peer was recently alive)", kSysctl}, 0, 255),
    int_key<&C::tcp_max_orphans>({"net.ipv4.tcp_max_orphans", "",
        "orphaned sockets allowed before new orphans are reset", kSysctl}, 0, kIntMax),
    int_key<&C::tcp_max_syn_backlog>({"net.ipv4.tcp_max_syn_backlog", "",
        "half-open connections per listener", kSysctl}, 1, kIntMax),
    bool_key<&C::tcp_window_scaling>({"net.ipv4.tcp_window_scaling", "",
        "RFC 7323 window scaling", kSysctl}),
    bool_key<&C::tcp_sack>({"net.ipv4.tcp_sack", "", "RFC 2018 selective ACK", kSysctl}),
    triple_key<&C::tcp_rmem>({"net.ipv4.tcp_rmem", "bytes",
        "receive buffer: min default max", kSysctl}),
    triple_key<&C::tcp_wmem>({"net.ipv4.tcp_wmem", "bytes",
        "send buffer: min default max", kSysctl}),
    int_key<&C::tcp_keepalive_time>({"net.ipv4.tcp_keepalive_time", "s",
        "idle time before the first keepalive probe", kSysctl}, 1, 32767),
    int_key<&C::tcp_keepalive_intvl>({"net.ipv4.tcp_keepalive_intvl", "s",
        "interval between keepalive probes", kSysctl}, 1, 32767),
    int_key<&C::tcp_keepalive_probes>({"net.ipv4.tcp_keepalive_probes", "",
        "unanswered keepalive probes before abort", kSysctl}, 1, 127),

    int_key<&C::timewait_len_ms>({"twtcp.timewait_len_ms", "ms",
        "TIME_WAIT length (TCP_TIMEWAIT_LEN)", kConst}, 1, 3600000),
    int_key<&C::paws_msl_s>({"twtcp.paws_msl_s", "s",
        "age limit of cached timestamps and of the RST PAWS exemption (TCP_PAWS_MSL)", kConst}, 0, 86400),
    int_key<&C::paws_window>({"twtcp.paws_window", "TS ticks",
        "PAWS replay tolerance (TCP_PAWS_WINDOW)", kConst}, 0, 65535),

    enum_key<&C::kernel_model, kModelNames>({"twtcp.kernel_model", "",
        "Linux release whose TIME_WAIT behaviour to reproduce", kModel}, "3.10|4.4|4.19|6.6|6.18"),
    opt_int_key<&C::paws_wrap_s, &E::paws_wrap_s>({"twtcp.paws_wrap_s", "s",
        "idle time after which PAWS trusts no ts_recent (24 days <= 6.6, 2147 s >= 6.7)", kModel}, 1, kIntMax),
    opt_enum_key<&C::reuse_time_rule, &E::reuse_time_rule, kReuseRuleNames>({"twtcp.reuse_time_rule", "",
        "when tw_reuse may take a TIME_WAIT: sec_gt1 (<= 4.18), sec_gt0 (4.19-6.13), ms_delay (>= 6.14)", kModel},
        "auto|sec_gt1|sec_gt0|ms_delay"),
    opt_enum_key<&C::ts_offset, &E::ts_offset, kTsOffsetNames>({"twtcp.ts_offset", "",
        "TS offset with tcp_timestamps=1: none (<= 4.9), per_host (4.11-2026), per_conn (4.10, 6.18.y)", kModel},
        "auto|none|per_host|per_conn"),
    opt_enum_key<&C::port_select, &E::port_select, kPortSelectNames>({"twtcp.port_select", "",
        "connect() port search: alg3 (RFC 6056 alg. 3, <= 5.17), alg4 (perturbation table, >= 5.18)", kModel},
        "auto|alg3|alg4"),
    opt_bool_key<&C::parity_split, &E::parity_split>({"twtcp.parity_split", "",
        "connect() tries ports with low's parity first (>= 4.6)", kModel}),
    opt_bool_key<&C::rst_rearms_when_rfc1337, &E::rst_rearms_when_rfc1337>({"twtcp.rst_rearms_when_rfc1337", "",
        "an exact RST ignored under rfc1337 re-arms the TIME_WAIT timer (<= 4.18)", kModel}),
    opt_bool_key<&C::recycle_syn_requires_ts, &E::recycle_syn_requires_ts>({"twtcp.recycle_syn_requires_ts", "",
        "tw_recycle's passive check ignores SYNs without timestamps (3.x; 4.x drops them)", kModel}),
    opt_bool_key<&C::reuse_skip_fin_wait2, &E::reuse_skip_fin_wait2>({"twtcp.reuse_skip_fin_wait2", "",
        "tw_reuse never takes an entry in the FIN_WAIT2 substate (>= 6.12)", kModel}),
    opt_enum_key<&C::paws_counter, &E::paws_counter, kPawsCounterNames>({"twtcp.paws_counter", "",
        "counter for PAWS rejects in TIME_WAIT: PAWSEstab (<= 6.14), PAWSTimewait (>= 6.15)", kModel},
        "auto|PAWSEstab|PAWSTimewait"),
    opt_bool_key<&C::oow_ack_ratelimit, &E::oow_ack_ratelimit_ms>({"twtcp.oow_ack_ratelimit", "",
        "tcp_invalid_ratelimit applies to out-of-window ACKs (>= 4.0; comment shows the ms)", kModel}),

    int_key<&C::timer_tick_us>({"twtcp.timer_tick_us", "us", "timer wheel granularity", kTimers}, 1, 1000000),
    int_key<&C::timer_slots>({"twtcp.timer_slots", "", "slots per timer wheel level", kTimers}, 64, 1 << 20, true),
    int_key<&C::timer_levels>({"twtcp.timer_levels", "",
        "timer wheel levels (1 = one wheel with rounds); timer_slots^timer_levels <= 2^48", kTimers}, 1, 4),
    int_key<&C::rto_min_ms>({"twtcp.rto_min_ms", "ms", "RTO floor (TCP_RTO_MIN)", kTimers}, 1, 120000),
    int_key<&C::rto_max_ms>({"twtcp.rto_max_ms", "ms", "RTO ceiling (TCP_RTO_MAX)", kTimers}, 1, 3600000),
    int_key<&C::rto_initial_ms>({"twtcp.rto_initial_ms", "ms",
        "RTO before the first RTT sample (RFC 6298)", kTimers}, 1, 3600000),
    int_key<&C::delayed_ack_ms>({"twtcp.delayed_ack_ms", "ms",
        "delayed ACK timeout (0 = ACK at once)", kTimers}, 0, 1000),
    int_key<&C::mss>({"twtcp.mss", "bytes", "MSS advertised and used", kTimers}, 88, 65495),
    u64_key<&C::random_seed>({"twtcp.random_seed", "",
        "PRNG and hash-secret seed; 0 = the program picks one and reports it", kTimers}),

    int_key<&C::max_connections>({"twtcp.max_connections", "",
        "live connections (TIME_WAIT entries not counted)", kTables}, 1, 1 << 24),
    int_key<&C::flow_table_capacity>({"twtcp.flow_table_capacity", "",
        "4-tuple table slots (connections and TIME_WAIT); any size, memory tracks it", kTables}, 16, 1 << 26),
    int_key<&C::peer_table_size>({"twtcp.peer_table_size", "",
        "per-host PAWS table entries (tw_recycle)", kTables}, 16, 1 << 24, true),
    int_key<&C::max_listeners>({"twtcp.max_listeners", "", "listening ports", kTables}, 1, 65536),
    int_key<&C::neigh_table_size>({"twtcp.neigh_table_size", "",
        "ARP cache entries (LRU eviction of resolved ones when full)", kTables}, 1, 65536),
    int_key<&C::neigh_unres_qlen>({"twtcp.neigh_unres_qlen", "",
        "frames held per next hop while ARP resolves it", kTables}, 1, 1024),

    enum_key<&C::checksum_offload, kChecksumOffloadNames>({"twtcp.checksum_offload", "",
        "IPv4/TCP checksums: auto = the DPDK port computes/verifies those it offers, off = all in software", kPort},
        "auto|off"),
    // clang-format on
};

constexpr std::size_t kKeyCount = sizeof(kKeys) / sizeof(kKeys[0]);

std::size_t key_index(const KeyInfo* k) {
  return static_cast<std::size_t>(k - kKeys);
}

// sysctl accepts '/' for '.', so net/ipv4/tcp_tw_reuse names the same key.
std::string normalize_key(std::string_view name) {
  std::string k(name);
  std::replace(k.begin(), k.end(), '/', '.');
  return k;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string_view last_segment(std::string_view s) {
  auto dot = s.rfind('.');
  return dot == std::string_view::npos ? s : s.substr(dot + 1);
}

// The closest key, by whole name or by last segment (tcp_tw_reuse, twtcp.tcp_tw_reuse).
const KeyInfo* suggest(std::string_view key) {
  if (key.size() > 100) return nullptr;
  const KeyInfo* best = nullptr;
  std::size_t best_d = 3;  // suggest only within 2 edits
  // The distance is at least the length difference: skip pairs that cannot win.
  auto distance = [&best_d](std::string_view a, std::string_view b) {
    std::size_t gap = a.size() > b.size() ? a.size() - b.size() : b.size() - a.size();
    return gap >= best_d ? gap : edit_distance(a, b);
  };
  for (const auto& k : kKeys) {
    std::size_t d =
        std::min(distance(key, k.name), distance(last_segment(key), last_segment(k.name)));
    if (d < best_d) {
      best_d = d;
      best = &k;
    }
  }
  return best;
}

std::string unknown_key_message(std::string_view written) {
  std::string msg = "unknown key '" + quote(written) + "'";
  if (const KeyInfo* s = suggest(normalize_key(written))) {
    msg += " (did you mean '" + std::string(s->name) + "'?)";
  }
  return msg;
}

// One "key = value" assignment (already stripped of comments). `where` prefixes
// messages ("file:12" or "--set"); origins, if given, records it for the key.
ConfigResult apply_assignment(Config& cfg, std::string_view line, const std::string& where,
                              std::vector<std::string>* origins) {
  bool ignore_unknown = false;
  if (!line.empty() && line.front() == '-') {
    ignore_unknown = true;
    line = trim(line.substr(1));
  }
  auto eq = line.find('=');
  if (eq == std::string_view::npos) {
    return ConfigResult::failure(where + ": missing '=' in '" + quote(line) + "'");
  }
  std::string_view written = trim(line.substr(0, eq));
  std::string_view value = trim(line.substr(eq + 1));
  if (written.empty()) return ConfigResult::failure(where + ": missing key before '='");
  const KeyInfo* k = find_key(written);
  if (k == nullptr) {
    if (ignore_unknown) return ConfigResult::success();
    return ConfigResult::failure(where + ": " + unknown_key_message(written));
  }
  // Parsers write the field only once the whole value is good, so a bad value leaves cfg as it was.
  std::string reason = k->parse(cfg, value, *k);
  if (!reason.empty()) {
    return ConfigResult::failure(
        where + ": " + std::string(k->name) + " = " + quote(value) + ": " + reason,
        std::string(k->name));
  }
  if (origins != nullptr) (*origins)[key_index(k)] = where;
  return ConfigResult::success();
}

ConfigResult load_text(Config& cfg, std::string_view text, std::string_view source,
                       std::vector<std::string>* origins) {
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::string_view raw = text.substr(pos, nl == std::string_view::npos ? text.npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    ++line_no;
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    std::string where = std::string(source) + ":" + std::to_string(line_no);
    if (auto r = apply_assignment(cfg, line, where, origins); !r) return r;
  }
  return ConfigResult::success();
}

ConfigResult read_file(const std::string& path, std::string& out) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return ConfigResult::failure(path + ": cannot open: " + std::strerror(errno));
  }
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  bool failed = std::ferror(f) != 0;
  int err = errno;
  std::fclose(f);
  if (failed) return ConfigResult::failure(path + ": cannot read: " + std::strerror(err));
  return ConfigResult::success();
}

struct Violation {
  std::string message;
  std::string_view key;      // blamed key
  std::string_view related;  // the other key of the rule, if any
};

std::optional<Violation> check_cross_keys(const Config& c) {
  const std::string model(to_string(c.kernel_model));
  const bool old_model =
      c.kernel_model == KernelModel::V3_10 || c.kernel_model == KernelModel::V4_4;
  if (c.tcp_tw_recycle && !old_model) {
    return Violation{
        "net.ipv4.tcp_tw_recycle = 1: needs twtcp.kernel_model 3.10 or 4.4 (Linux "
        "removed tcp_tw_recycle in 4.12; kernel_model is " +
            model + ")",
        "net.ipv4.tcp_tw_recycle", "twtcp.kernel_model"};
  }
  if (c.tcp_tw_reuse == 2 && old_model) {
    return Violation{
        "net.ipv4.tcp_tw_reuse = 2: loopback-only reuse needs twtcp.kernel_model "
        "4.19 or later (kernel_model is " +
            model + "; use 0 or 1)",
        "net.ipv4.tcp_tw_reuse", "twtcp.kernel_model"};
  }
  if (c.rto_min_ms > c.rto_max_ms) {
    return Violation{"twtcp.rto_min_ms = " + std::to_string(c.rto_min_ms) +
                         ": above twtcp.rto_max_ms (" + std::to_string(c.rto_max_ms) + ")",
                     "twtcp.rto_min_ms", "twtcp.rto_max_ms"};
  }
  if (c.rto_initial_ms < c.rto_min_ms || c.rto_initial_ms > c.rto_max_ms) {
    return Violation{"twtcp.rto_initial_ms = " + std::to_string(c.rto_initial_ms) +
                         ": outside twtcp.rto_min_ms..twtcp.rto_max_ms (" +
                         range_text(c.rto_min_ms, c.rto_max_ms) + ")",
                     "twtcp.rto_initial_ms",
                     c.rto_initial_ms < c.rto_min_ms ? "twtcp.rto_min_ms" : "twtcp.rto_max_ms"};
  }
  // lib/timer adds the top level's span (slots^levels ticks) to tick numbers; above 2^48
  // that could wrap for times below 2^63 us (WheelGeometry::validate() has the same limit).
  if (c.timer_slots > 0 && c.timer_levels > 0) {
    const int slot_bits = std::bit_width(static_cast<std::uint32_t>(c.timer_slots)) - 1;
    const std::int64_t span_bits = std::int64_t{slot_bits} * c.timer_levels;
    if (span_bits > kTimerMaxSpanBits) {
      return Violation{"twtcp.timer_levels = " + std::to_string(c.timer_levels) +
                           ": twtcp.timer_slots^timer_levels is 2^" + std::to_string(span_bits) +
                           " ticks, above 2^" + std::to_string(kTimerMaxSpanBits) +
                           " (timer_slots is " + std::to_string(c.timer_slots) + ")",
                       "twtcp.timer_levels", "twtcp.timer_slots"};
    }
  }
  return std::nullopt;
}

}  // namespace

// ---------------------------------------------------------------- public API

std::string_view to_string(KernelModel v) {
  return name_of(kModelNames, v);
}
std::string_view to_string(ReuseTimeRule v) {
  return name_of(kReuseRuleNames, v);
}
std::string_view to_string(TsOffset v) {
  return name_of(kTsOffsetNames, v);
}
std::string_view to_string(PortSelect v) {
  return name_of(kPortSelectNames, v);
}
std::string_view to_string(PawsCounter v) {
  return name_of(kPawsCounterNames, v);
}

std::string_view to_string(ChecksumOffload v) {
  return name_of(kChecksumOffloadNames, v);
}

std::string_view to_string(PortListError e) {
  switch (e) {
    case PortListError::kOk:
      return "ok";
    case PortListError::kExpectedNumber:
      return "expected a port number (0-65535)";
    case PortListError::kNumberTooLarge:
      return "port number above 65535";
    case PortListError::kReversedRange:
      return "range start is above range end";
    case PortListError::kUnexpectedChar:
      return "unexpected character; expected ',' or '-' between ports";
  }
  return "unknown port list error";
}

namespace {

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

struct PortListCursor {
  std::string_view s;
  std::size_t i = 0;

  void skip_blanks() {
    while (i < s.size() && is_blank(s[i])) ++i;
  }
  [[nodiscard]] bool at_end() const { return i >= s.size(); }
  [[nodiscard]] char peek() const { return s[i]; }

  // Reads a decimal port; on failure leaves `i` at the offending byte.
  PortListError number(std::uint16_t& out) {
    if (at_end() || !is_digit(s[i])) return PortListError::kExpectedNumber;
    std::uint32_t v = 0;
    while (i < s.size() && is_digit(s[i])) {
      v = v * 10 + static_cast<std::uint32_t>(s[i] - '0');
      if (v > 65535) return PortListError::kNumberTooLarge;
      ++i;
    }
    out = static_cast<std::uint16_t>(v);
    return PortListError::kOk;
  }
};

// Sorted and merged, so equal port sets compare equal and print the same.
std::vector<PortRange> sorted_and_merged(std::vector<PortRange> ranges) {
  std::sort(ranges.begin(), ranges.end(),
            [](const PortRange& a, const PortRange& b) { return a.low < b.low; });
  std::vector<PortRange> merged;
  for (const auto& r : ranges) {
    if (!merged.empty() && std::uint32_t{r.low} <= std::uint32_t{merged.back().high} + 1) {
      merged.back().high = std::max(merged.back().high, r.high);
    } else {
      merged.push_back(r);
    }
  }
  return merged;
}

}  // namespace

PortListParse parse_port_list(std::string_view text) {
  PortListParse r;
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  PortListCursor c{text};
  c.skip_blanks();
  if (c.at_end()) return r;

  std::vector<PortRange> ranges;
  auto fail = [&](PortListError e) {
    r.error = e;
    r.error_offset = c.i;
    return r;
  };
  for (;;) {
    c.skip_blanks();
    std::uint16_t a = 0;
    if (auto e = c.number(a); e != PortListError::kOk) return fail(e);
    std::uint16_t b = a;
    c.skip_blanks();
    if (!c.at_end() && c.peek() == '-') {
      ++c.i;
      c.skip_blanks();
      const std::size_t range_end_at = c.i;
      if (auto e = c.number(b); e != PortListError::kOk) return fail(e);
      if (a > b) {
        c.i = range_end_at;
        return fail(PortListError::kReversedRange);
      }
      c.skip_blanks();
    }
    ranges.push_back({a, b});
    if (c.at_end()) break;
    if (c.peek() != ',') return fail(PortListError::kUnexpectedChar);
    ++c.i;
  }
  r.ranges = sorted_and_merged(std::move(ranges));
  return r;
}

std::string format_port_list(std::span<const PortRange> ranges) {
  std::string out;
  for (const auto& r : ranges) {
    if (!out.empty()) out += ',';
    out += std::to_string(r.low);
    if (r.high != r.low) out += "-" + std::to_string(r.high);
  }
  return out;
}

// SPEC §10, one column per model:
//                    3.10      4.4       4.19      6.6        6.18
//   reuse_time_rule  sec_gt1   sec_gt1   sec_gt0   sec_gt0    ms_delay   (§4.1)
//   ts_offset        none      none      per_host  per_host   per_conn   (§4.5; 2026 revert
//   in 6.18.y) port_select      alg3      alg3      alg3      alg4       alg4       (§4.3, alg4
//   ≥ 5.18) parity_split     0         0         1         1          1          (≥ 4.6) rst_rearms
//   1         1         0         0          0          (D3, ≤ 4.18) recycle_syn_ts   1         0
//   0         0          0          (§5.2; 3.x only) skip_fin_wait2   0         0         0 0 1
//   (≥ 6.12) paws_counter     Estab     Estab     Estab     Estab      Timewait   (D4, ≥ 6.15)
//   paws_wrap_s      24 days   24 days   24 days   24 days    2147       (≥ 6.7)
//   oow ratelimit    off       500 ms    500 ms    500 ms     500 ms     (D1, ≥ 4.0)
EffectivePolicy model_defaults(KernelModel m) {
  const bool v3 = m == KernelModel::V3_10;
  const bool le44 = v3 || m == KernelModel::V4_4;
  const bool v618 = m == KernelModel::V6_18;
  EffectivePolicy e{};
  e.kernel_model = m;
  e.reuse_time_rule =
      le44 ? ReuseTimeRule::kSecGt1 : (v618 ? ReuseTimeRule::kMsDelay : ReuseTimeRule::kSecGt0);
  e.ts_offset = le44 ? TsOffset::kNone : (v618 ? TsOffset::kPerConn : TsOffset::kPerHost);
  e.port_select = (m == KernelModel::V6_6 || v618) ? PortSelect::kAlg4Perturb : PortSelect::kAlg3;
  e.parity_split = !le44;
  e.rst_rearms_when_rfc1337 = le44;
  e.recycle_syn_requires_ts = v3;
  e.reuse_skip_fin_wait2 = v618;
  e.paws_counter = v618 ? PawsCounter::kPawsTimewait : PawsCounter::kPawsEstab;
  e.paws_wrap_s = v618 ? 2147u : 24u * 24u * 3600u;
  e.oow_ack_ratelimit_ms = v3 ? 0 : Config{}.tcp_invalid_ratelimit;
  return e;
}

EffectivePolicy Config::effective() const {
  EffectivePolicy e = model_defaults(kernel_model);
  if (paws_wrap_s) e.paws_wrap_s = *paws_wrap_s;
  if (reuse_time_rule) e.reuse_time_rule = *reuse_time_rule;
  if (ts_offset) e.ts_offset = *ts_offset;
  if (tcp_timestamps != 1) e.ts_offset = TsOffset::kNone;  // Linux: anything but 1 means no offset
  if (port_select) e.port_select = *port_select;
  if (parity_split) e.parity_split = *parity_split;
  if (rst_rearms_when_rfc1337) e.rst_rearms_when_rfc1337 = *rst_rearms_when_rfc1337;
  if (recycle_syn_requires_ts) e.recycle_syn_requires_ts = *recycle_syn_requires_ts;
  if (reuse_skip_fin_wait2) e.reuse_skip_fin_wait2 = *reuse_skip_fin_wait2;
  if (paws_counter) e.paws_counter = *paws_counter;
  const bool oow = oow_ack_ratelimit.value_or(kernel_model != KernelModel::V3_10);
  e.oow_ack_ratelimit_ms = oow ? tcp_invalid_ratelimit : 0;
  return e;
}

bool Config::is_reserved_port(std::uint16_t port) const {
  auto it = std::upper_bound(ip_local_reserved_ports.begin(), ip_local_reserved_ports.end(), port,
                             [](std::uint16_t p, const PortRange& r) { return p < r.low; });
  return it != ip_local_reserved_ports.begin() && port <= std::prev(it)->high;
}

std::string KeyInfo::allowed() const {
  std::string pow2 = power_of_two ? ", a power of two" : "";
  switch (type) {
    case KeyType::kInt:
      return (accepts_auto ? "auto or " : "") + range_text(min, max) + pow2;
    case KeyType::kUint64:
      return "0.." + std::to_string(std::numeric_limits<std::uint64_t>::max());
    case KeyType::kBool:
      return accepts_auto ? std::string(choices) : "0..1";
    case KeyType::kPortRange:
      return "two ports " + range_text(min, max) + ", low <= high";
    case KeyType::kPortList:
      return "comma-separated ports or low-high ranges in " + range_text(min, max);
    case KeyType::kTriple:
      return "three integers " + range_text(min, max) + ", min <= default <= max";
    case KeyType::kEnum:
      return std::string(choices);
  }
  return {};
}

std::span<const KeyInfo> list_keys() {
  return {kKeys, kKeyCount};
}

const KeyInfo* find_key(std::string_view name) {
  const std::string k = normalize_key(name);
  for (const auto& info : kKeys) {
    if (info.name == k) return &info;
  }
  return nullptr;
}

ConfigResult load_string(Config& cfg, std::string_view text, std::string_view source_name) {
  return load_text(cfg, text, source_name, nullptr);
}

ConfigResult load_file(Config& cfg, const std::string& path) {
  std::string text;
  if (auto r = read_file(path, text); !r) return r;
  return load_text(cfg, text, path, nullptr);
}

ConfigResult apply_set(Config& cfg, std::string_view assignment) {
  return apply_assignment(cfg, trim(assignment), "--set", nullptr);
}

ConfigResult validate(const Config& cfg) {
  if (auto v = check_cross_keys(cfg)) {
    return ConfigResult::failure(std::move(v->message), std::string(v->key));
  }
  return ConfigResult::success();
}

std::string format(const Config& cfg) {
  static const Config defaults{};
  const EffectivePolicy eff = cfg.effective();
  std::string out =
      "# twtcp configuration, sysctl.conf syntax: load it with --config FILE.\n"
      "# Keys at 'auto' follow twtcp.kernel_model; a comment shows what they resolve to.\n";
  std::string_view section;
  for (const auto& k : kKeys) {
    if (k.section != section) {
      section = k.section;
      out += "\n# ==== ";
      out += section;
      out += " ====\n";
    }
    out += "\n# ";
    out += k.doc;
    out += "\n# allowed: " + k.allowed();
    if (!k.unit.empty()) out += " (" + std::string(k.unit) + ")";
    std::string def = k.format(defaults);
    std::replace(def.begin(), def.end(), '\t', ' ');
    out += "; default: " + (def.empty() ? std::string("empty") : def) + "\n";
    std::string value = k.format(cfg);
    if (k.resolved != nullptr && value == "auto") {
      out += "# auto = " + k.resolved(eff) + " for kernel_model " +
             std::string(to_string(cfg.kernel_model)) + "\n";
    }
    out += std::string(k.name) + " = " + value + "\n";
  }
  return out;
}

ConfigLoader::ConfigLoader(Config base) : cfg_(std::move(base)), origins_(kKeyCount) {}

ConfigResult ConfigLoader::load_file(const std::string& path) {
  std::string text;
  if (auto r = read_file(path, text); !r) return r;
  return load_text(cfg_, text, path, &origins_);
}

ConfigResult ConfigLoader::load_string(std::string_view text, std::string_view source_name) {
  return load_text(cfg_, text, source_name, &origins_);
}

ConfigResult ConfigLoader::apply_set(std::string_view assignment) {
  return apply_assignment(cfg_, trim(assignment), "--set", &origins_);
}

ConfigResult ConfigLoader::finish() const {
  auto v = check_cross_keys(cfg_);
  if (!v) return ConfigResult::success();
  std::string_view where = origin(v->key);
  if (where.empty()) where = origin(v->related);
  std::string msg = where.empty() ? v->message : std::string(where) + ": " + v->message;
  return ConfigResult::failure(std::move(msg), std::string(v->key));
}

std::string_view ConfigLoader::origin(std::string_view key) const {
  const KeyInfo* k = find_key(key);
  return k == nullptr ? std::string_view{} : std::string_view(origins_[key_index(k)]);
}

}  // namespace twtcp
