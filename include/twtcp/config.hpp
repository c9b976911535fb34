// twtcp/config.hpp: every knob of a twtcp stack, named as Linux names its
// sysctls (net.ipv4.*), plus twtcp.* keys for what Linux compiles in.
//
// A Config is plain data with Linux 6.18 defaults (SPEC §0, §1). It is filled
// from files in /etc/sysctl.conf syntax and from --set KEY=VALUE overrides, and
// can be printed back in the same syntax (format()). Every key is described in
// exactly one row of the registry in lib/config/config.cpp; the parser, the
// printer, find_key() and list_keys() all read that table.
//
// Model-derived knobs (SPEC §10): Linux behaviour changed between versions in
// ways no sysctl controls (reuse timing, TS offsets, port selection, ...).
// twtcp.kernel_model picks a kernel; each derived knob is std::nullopt
// ("auto" in files) unless set explicitly, and Config::effective() resolves
// it: an explicit setting wins, otherwise the model decides.
//
// Loading happens in two steps because several sources are combined
// (--config A --config B --set k=v, later wins): load_file/load_string/
// apply_set check each value on its own (type, range); validate() checks the
// rules between keys (port range order is per key; tw_recycle needs an old
// kernel model, ...) once, after the last source. ConfigLoader does both and
// remembers where each key was set so cross-key errors name a file and line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace twtcp {

// The Linux release whose TIME_WAIT behaviour the stack reproduces. Ordered by release,
// so `model >= KernelModel::V4_19` reads as "4.19 or later".
enum class KernelModel : std::uint8_t { V3_10, V4_4, V4_19, V6_6, V6_18 };

// Every model, oldest first (for tests and tools that sweep the models).
inline constexpr KernelModel kAllKernelModels[] = {
    KernelModel::V3_10, KernelModel::V4_4,  KernelModel::V4_19,
    KernelModel::V6_6,  KernelModel::V6_18,
};

// When a TIME_WAIT 4-tuple may be taken over by tcp_tw_reuse (SPEC §4.1).
enum class ReuseTimeRule : std::uint8_t {
  kSecGt1,   // 2.6 .. ≈4.18: now_s − ts_recent_stamp_s > 1 (1–2 s, coarse seconds)
  kSecGt0,   // ≈4.19 .. 6.13: now_s after ts_recent_stamp_s ((0, 1] s)
  kMsDelay,  // ≥ 6.14: now_ms after tw_entry_ms + net.ipv4.tcp_tw_reuse_delay
};

// Source of the per-connection TCP timestamp offset (SPEC §4.5).
enum class TsOffset : std::uint8_t {
  kNone,     // ≤ 4.9, or tcp_timestamps != 1: TSval is one clock for every connection
  kPerConn,  // 4.10, and 6.12.y/6.18.y after the 2026 revert: hash of the 4-tuple
  kPerHost,  // 4.11 .. early 2026: hash of (saddr, daddr)
};

// Ephemeral port search of connect() (SPEC §4.3, RFC 6056).
enum class PortSelect : std::uint8_t {
  kAlg3,         // ≤ 5.17: RFC 6056 algorithm 3 (hash offset + global hint)
  kAlg4Perturb,  // ≥ 5.18: algorithm 4, 2^16-entry perturbation table
};

// SNMP counter bumped when PAWS rejects a segment in TIME_WAIT (SPEC §3.3 D4).
enum class PawsCounter : std::uint8_t { kPawsEstab, kPawsTimewait };

// twtcp.checksum_offload: use a DPDK port's checksum offloads where offered, or never.
enum class ChecksumOffload : std::uint8_t { kAuto, kOff };

// A port interval, both ends inclusive.
struct PortRange {
  std::uint16_t low = 0;
  std::uint16_t high = 0;
  friend bool operator==(const PortRange&, const PortRange&) = default;
};

// net.ipv4.ip_local_port_range's default since Linux 4.x (32768 61000 before).
inline constexpr PortRange kDefaultLocalPortRange{32768, 60999};

// Linux's 3-int memory triples (tcp_rmem / tcp_wmem): min, default, max bytes.
struct BufSizes {
  std::int32_t min = 0;
  std::int32_t def = 0;
  std::int32_t max = 0;
  friend bool operator==(const BufSizes&, const BufSizes&) = default;
};

// Config::effective(): the model-derived knobs with "auto" resolved.
struct EffectivePolicy {
  KernelModel kernel_model;
  ReuseTimeRule reuse_time_rule;
  TsOffset ts_offset;  // kNone whenever tcp_timestamps != 1, whatever the knob says
  PortSelect port_select;
  bool parity_split;
  bool rst_rearms_when_rfc1337;
  bool recycle_syn_requires_ts;
  bool reuse_skip_fin_wait2;
  PawsCounter paws_counter;
  std::uint32_t paws_wrap_s;
  // One ACK per this many ms for out-of-window pure ACKs/SYNs, 0 = no limit.
  std::int32_t oow_ack_ratelimit_ms;
  friend bool operator==(const EffectivePolicy&, const EffectivePolicy&) = default;
};

struct Config {
  // ---- Linux sysctls (net.ipv4.*); defaults as measured on 6.18 (SPEC §1) ----

  // net.ipv4.tcp_tw_reuse: 0 off, 1 on for every destination, 2 loopback only.
  // Linux default 2. Range 0..2; the value 2 needs kernel_model >= 4.19.
  std::int32_t tcp_tw_reuse = 2;
  // net.ipv4.tcp_tw_reuse_delay: ms after TIME_WAIT entry before tw_reuse may take the
  // 4-tuple (used by reuse rule ms_delay, Linux ≥ 6.14). Default 1000. Range 1..60000 ms.
  std::int32_t tcp_tw_reuse_delay = 1000;
  // net.ipv4.tcp_tw_recycle: per-host PAWS cache + 3.5·RTO TIME_WAIT (SPEC §5).
  // Linux ≤ 4.11 only (default 0); allowed with kernel_model 3.10 or 4.4. Range 0..1.
  bool tcp_tw_recycle = false;
  // net.ipv4.tcp_timestamps: 0 off, 1 on with per-connection offsets, 2 on without
  // offsets. Default 1. Range 0..2.
  std::int32_t tcp_timestamps = 1;
  // net.ipv4.tcp_max_tw_buckets: TIME_WAIT entries allowed at once; beyond it the
  // socket closes without TIME_WAIT (TCPTimeWaitOverflow). 0 = never TIME_WAIT.
  // Default 131072 (ehash/2). Range 0..2147483647.
  std::int32_t tcp_max_tw_buckets = 131072;
  // net.ipv4.tcp_rfc1337: 1 = an RST does not kill TIME_WAIT. Default 0. Range 0..1.
  bool tcp_rfc1337 = false;
  // net.ipv4.tcp_fin_timeout: orphaned FIN_WAIT2 lifetime, s. Default 60.
  // Range 0..2147483647 (floored at 3.5·RTO at run time).
  std::int32_t tcp_fin_timeout = 60;
  // net.ipv4.ip_local_port_range: ephemeral ports for connect(), "low high".
  // Default 32768 60999 (32768 61000 before 4.x). Range 1..65535, low <= high.
  PortRange ip_local_port_range = kDefaultLocalPortRange;
  // net.ipv4.ip_local_reserved_ports: ports autobind never picks, "8080,9000-9010"
  // (syntax: parse_port_list()). Default empty. Kept sorted, merged and non-overlapping.
  std::vector<PortRange> ip_local_reserved_ports;
  // net.ipv4.tcp_syn_retries: SYN retransmissions of an active open. Default 6. Range 1..127.
  std::int32_t tcp_syn_retries = 6;
  // net.ipv4.tcp_synack_retries: SYN-ACK retransmissions. Default 5. Range 0..255.
  std::int32_t tcp_synack_retries = 5;
  // net.ipv4.tcp_syncookies: 0 off, 1 when the SYN queue overflows, 2 always.
  // Default 1. Range 0..2.
  std::int32_t tcp_syncookies = 1;
  // net.ipv4.tcp_invalid_ratelimit: at most one out-of-window/PAWS/challenge ACK per
  // this many ms per socket (TIME_WAIT included, ≥ 4.0). Default 500. Range 0..2147483647 ms.
  std::int32_t tcp_invalid_ratelimit = 500;
  // net.ipv4.tcp_challenge_ack_limit: RFC 5961 challenge ACKs per second, stack-wide.
  // Default 2147483647 (unlimited since 6.0; 100 in 3.6, 1000 in 4.7). Range 0..2147483647.
  std::int32_t tcp_challenge_ack_limit = 2147483647;
  // net.ipv4.tcp_retries2: data retransmissions before a connection is aborted.
  // Default 15. Range 0..255.
  std::int32_t tcp_retries2 = 15;
  // net.ipv4.tcp_orphan_retries: retransmissions for orphaned sockets; 0 means 8 if
  // the peer was recently alive (SPEC §7). Default 0. Range 0..255.
  std::int32_t tcp_orphan_retries = 0;
  // net.ipv4.tcp_max_orphans: orphaned sockets allowed before aborting with RST.
  // Default 131072. Range 0..2147483647.
  std::int32_t tcp_max_orphans = 131072;
  // net.ipv4.tcp_max_syn_backlog: half-open connections per listener. Default 2048
  // (Linux: max(128, ehash/128) with ehash 262144). Range 1..2147483647.
  std::int32_t tcp_max_syn_backlog = 2048;
  // net.ipv4.tcp_window_scaling: RFC 7323 window scaling. Default 1. Range 0..1.
  bool tcp_window_scaling = true;
  // net.ipv4.tcp_sack: RFC 2018 selective ACK. Default 1. Range 0..1.
  bool tcp_sack = true;
  // net.ipv4.tcp_rmem: receive buffer min, default, max bytes. Default 4096 131072 6291456.
  // Each 1..2147483647, min <= default <= max.
  BufSizes tcp_rmem{4096, 131072, 6291456};
  // net.ipv4.tcp_wmem: send buffer min, default, max bytes. Default 4096 16384 4194304.
  BufSizes tcp_wmem{4096, 16384, 4194304};
  // net.ipv4.tcp_keepalive_time: idle s before the first keepalive. Default 7200. Range 1..32767.
  std::int32_t tcp_keepalive_time = 7200;
  // net.ipv4.tcp_keepalive_intvl: s between keepalive probes. Default 75. Range 1..32767.
  std::int32_t tcp_keepalive_intvl = 75;
  // net.ipv4.tcp_keepalive_probes: unanswered probes before abort. Default 9. Range 1..127.
  std::int32_t tcp_keepalive_probes = 9;

  // ---- twtcp.*: what Linux compiles in (SPEC §0) ----

  // twtcp.timewait_len_ms: TIME_WAIT length (TCP_TIMEWAIT_LEN). Default 60000.
  // Range 1..3600000 ms.
  std::int32_t timewait_len_ms = 60000;
  // twtcp.paws_msl_s: age limit of cached timestamps and the RST PAWS exemption
  // (TCP_PAWS_MSL). Default 60. Range 0..86400 s.
  std::int32_t paws_msl_s = 60;
  // twtcp.paws_window: replay tolerance in TS ticks (TCP_PAWS_WINDOW). Default 1.
  // Range 0..65535.
  std::int32_t paws_window = 1;

  // ---- twtcp.kernel_model and the knobs it derives (SPEC §10) ----

  // twtcp.kernel_model: 3.10, 4.4, 4.19, 6.6 or 6.18. Default 6.18.
  KernelModel kernel_model = KernelModel::V6_18;
  // twtcp.paws_wrap_s: idle s after which PAWS trusts no ts_recent (TCP_PAWS_24DAYS
  // 2073600 ≤ 6.6, TCP_PAWS_WRAP 2147 ≥ 6.7). auto or 1..2147483647 s.
  std::optional<std::uint32_t> paws_wrap_s;
  // twtcp.reuse_time_rule: auto | sec_gt1 (≤ 4.18) | sec_gt0 (4.19–6.13) | ms_delay (≥ 6.14).
  std::optional<ReuseTimeRule> reuse_time_rule;
  // twtcp.ts_offset: offset source when tcp_timestamps = 1: auto | none (≤ 4.9) |
  // per_host (4.11–2026) | per_conn (4.10, 6.18.y).
  std::optional<TsOffset> ts_offset;
  // twtcp.port_select: auto | alg3 (≤ 5.17) | alg4 (≥ 5.18, perturbation table).
  std::optional<PortSelect> port_select;
  // twtcp.parity_split: connect() prefers ports with low's parity (≥ 4.6). auto | 0 | 1.
  std::optional<bool> parity_split;
  // twtcp.rst_rearms_when_rfc1337: an exact RST under rfc1337 re-arms the TIME_WAIT
  // timer (≤ 4.18, SPEC D3). auto | 0 | 1.
  std::optional<bool> rst_rearms_when_rfc1337;
  // twtcp.recycle_syn_requires_ts: the tw_recycle passive check only looks at SYNs
  // that carry a timestamp (3.x); 4.x also drops SYNs without one. auto | 0 | 1.
  std::optional<bool> recycle_syn_requires_ts;
  // twtcp.reuse_skip_fin_wait2: tw_reuse never takes a TIME_WAIT entry in its
  // FIN_WAIT2 substate (≥ 6.12). auto | 0 | 1.
  std::optional<bool> reuse_skip_fin_wait2;
  // twtcp.paws_counter: counter for PAWS rejects in TIME_WAIT: auto | PAWSEstab
  // (≤ 6.14) | PAWSTimewait (≥ 6.15).
  std::optional<PawsCounter> paws_counter;
  // twtcp.oow_ack_ratelimit: whether tcp_invalid_ratelimit limits out-of-window ACKs
  // (≥ 4.0; 3.x always answers). auto | 0 | 1.
  std::optional<bool> oow_ack_ratelimit;

  // ---- Timers, RTO and segment sizes ----

  // twtcp.timer_tick_us: timer wheel granularity. Default 1000 (1 ms, like HZ=1000).
  // Range 1..1000000 us.
  std::int32_t timer_tick_us = 1000;
  // twtcp.timer_slots: slots per wheel level. Default 4096. Power of two, 64..1048576.
  std::int32_t timer_slots = 4096;
  // twtcp.timer_levels: wheel levels; 1 = a single wheel with rounds (see lib/timer).
  // Default 2. Range 1..4, and timer_slots^timer_levels <= 2^48 ticks (validate()).
  std::int32_t timer_levels = 2;
  // twtcp.rto_min_ms: RTO floor (TCP_RTO_MIN). Default 200. Range 1..120000 ms.
  std::int32_t rto_min_ms = 200;
  // twtcp.rto_max_ms: RTO ceiling (TCP_RTO_MAX). Default 120000. Range 1..3600000 ms.
  std::int32_t rto_max_ms = 120000;
  // twtcp.rto_initial_ms: RTO before the first RTT sample (RFC 6298 2.1). Default 1000.
  // Range 1..3600000 ms; rto_min_ms <= rto_initial_ms <= rto_max_ms.
  std::int32_t rto_initial_ms = 1000;
  // twtcp.delayed_ack_ms: delayed ACK timeout (TCP_DELACK_MIN); 0 = ACK at once.
  // Default 40. Range 0..1000 ms.
  std::int32_t delayed_ack_ms = 40;
  // twtcp.mss: MSS we advertise and send with (Ethernet 1500 − 40). Default 1460.
  // Range 88..65495 bytes.
  std::int32_t mss = 1460;
  // twtcp.random_seed: seed of the stack's PRNG and hash secrets (ISNs, TS offsets,
  // port perturbation). 0 = the program picks one at start and reports it; any
  // other value makes runs reproducible. Default 0. Range 0..18446744073709551615.
  std::uint64_t random_seed = 0;

  // ---- Table sizes (fixed at start; hot paths never grow them) ----

  // twtcp.max_connections: live connections (not TIME_WAIT). Default 65536.
  // Range 1..16777216.
  std::int32_t max_connections = 65536;
  // twtcp.flow_table_capacity: slots of the 4-tuple table (connections + TIME_WAIT).
  // Default 262144 (Linux ehash here). Power of two, 16..67108864.
  std::int32_t flow_table_capacity = 262144;
  // twtcp.peer_table_size: entries of the per-host PAWS table (tw_recycle).
  // Default 65536. Power of two, 16..16777216.
  std::int32_t peer_table_size = 65536;
  // twtcp.max_listeners: listening ports. Default 64. Range 1..65536.
  std::int32_t max_listeners = 64;
  // twtcp.neigh_table_size: ARP cache entries of a DPDK program (lib/neigh). Full: the least
  // recently used resolved entry is evicted; if every entry is still resolving, the new frame
  // is dropped and counted. Default 256 (Linux gc_thresh1 128 .. gc_thresh3 1024). Range 1..65536.
  std::int32_t neigh_table_size = 256;
  // twtcp.neigh_unres_qlen: frames held per next hop while ARP resolves it (Linux
  // unres_qlen); more are dropped and counted. Default 16. Range 1..1024.
  std::int32_t neigh_unres_qlen = 16;

  // ---- The DPDK port (programs on a DPDK port; the Stack itself follows its TxSink) ----

  // twtcp.checksum_offload: auto = the IPv4 and TCP checksums a port's device offers to
  // compute (TX) or verify (RX) are left to it, the rest done in software; off = all in
  // software whatever the device offers. Default auto.
  ChecksumOffload checksum_offload = ChecksumOffload::kAuto;

  // Derived knobs resolved against kernel_model (explicit settings win).
  [[nodiscard]] EffectivePolicy effective() const;

  // True if `port` is in ip_local_reserved_ports (binary search; for setup code,
  // the port allocator should build its own bitmap).
  [[nodiscard]] bool is_reserved_port(std::uint16_t port) const;

  friend bool operator==(const Config&, const Config&) = default;
};

// The model's value of each derived knob, ignoring explicit settings.
[[nodiscard]] EffectivePolicy model_defaults(KernelModel model);

// Spellings used in files ("3.10", "ms_delay", "per_conn", "alg4", "PAWSTimewait").
[[nodiscard]] std::string_view to_string(KernelModel v);
[[nodiscard]] std::string_view to_string(ReuseTimeRule v);
[[nodiscard]] std::string_view to_string(TsOffset v);
[[nodiscard]] std::string_view to_string(PortSelect v);
[[nodiscard]] std::string_view to_string(PawsCounter v);
[[nodiscard]] std::string_view to_string(ChecksumOffload v);

// Why parse_port_list() rejected its input.
enum class PortListError : std::uint8_t {
  kOk = 0,
  kExpectedNumber,  // a token does not start with a decimal digit (includes "-5", ",,", "a")
  kNumberTooLarge,  // a port above 65535
  kReversedRange,   // "a-b" with a > b
  kUnexpectedChar,  // something other than ',', '-', blanks or a final newline after a number
};
// A one-line description ("port number above 65535"); "ok" for kOk.
[[nodiscard]] std::string_view to_string(PortListError e);

struct [[nodiscard]] PortListParse {
  std::vector<PortRange> ranges;  // sorted by low, overlapping/adjacent ranges merged
  PortListError error = PortListError::kOk;
  std::size_t error_offset = 0;  // byte offset into the input where parsing stopped

  [[nodiscard]] bool ok() const { return error == PortListError::kOk; }
  [[nodiscard]] std::string_view why() const { return to_string(error); }
};

// The syntax of net.ipv4.ip_local_reserved_ports: comma-separated ports 0..65535 and
// inclusive ranges "a-b" (Linux's bitmap takes port 0 too). Blanks (space, tab) around
// tokens and one trailing newline are accepted; an empty or all-blank string is the empty
// list, which is how Linux clears it. On error `ranges` is empty.
[[nodiscard]] PortListParse parse_port_list(std::string_view text);
// The inverse, as `sysctl net.ipv4.ip_local_reserved_ports` prints it: "8080,9000-9010",
// no spaces, "" for none. Prints the ranges in the given order, so pass a parse_port_list()
// result (or Config::ip_local_reserved_ports) to get the canonical form.
[[nodiscard]] std::string format_port_list(std::span<const PortRange> ranges);

// The outcome of a load step: ok, or one line naming source, line, key, value and
// why (e.g. "configs/x.conf:12: net.ipv4.tcp_tw_reuse = 3: out of range (allowed 0..2)").
class [[nodiscard]] ConfigResult {
 public:
  static ConfigResult success() { return ConfigResult{}; }
  static ConfigResult failure(std::string message, std::string key = {}) {
    ConfigResult r;
    r.ok_ = false;
    r.message_ = std::move(message);
    r.key_ = std::move(key);
    return r;
  }
  [[nodiscard]] bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  // Empty when ok().
  [[nodiscard]] const std::string& message() const { return message_; }
  // The canonical key at fault, empty if the error is not about one key.
  [[nodiscard]] const std::string& key() const { return key_; }

 private:
  bool ok_ = true;
  std::string message_;
  std::string key_;
};

// How a key's value is spelled.
enum class KeyType : std::uint8_t {
  kInt,        // decimal integer in [min, max]
  kUint64,     // decimal integer in [0, 2^64 - 1]
  kBool,       // 0 or 1
  kPortRange,  // "low high" (whitespace-separated, like sysctl)
  kPortList,   // "80,8080,9000-9010" or empty
  kTriple,     // "min default max"
  kEnum,       // one of `choices`
};

// One row of the key registry.
struct KeyInfo {
  std::string_view name;  // canonical, dot-separated
  KeyType type;
  std::int64_t min;  // kInt/kTriple/kPortRange/kPortList: range of each integer
  std::int64_t max;
  std::string_view choices;  // kEnum, and "auto" knobs: "auto|0|1"
  std::string_view unit;     // "ms", "s", "us", "bytes", or empty
  std::string_view doc;      // one line, printed as a comment by format()
  std::string_view section;  // heading format() groups keys under
  bool accepts_auto;         // value "auto" = derive from twtcp.kernel_model
  bool power_of_two;
  // Parse `value` into the field: empty string on success, else the reason
  // ("out of range (allowed 0..2)"). The Config is untouched on failure.
  std::string (*parse)(Config&, std::string_view value, const KeyInfo&);
  // The field's value in file syntax.
  std::string (*format)(const Config&);
  // accepts_auto keys: what "auto" resolves to, for format()'s comment. Else nullptr.
  std::string (*resolved)(const EffectivePolicy&);
  // Human-readable allowed values ("0..2", "3.10|4.4|...", "two ports 1..65535, low <= high").
  [[nodiscard]] std::string allowed() const;
};

// All keys, in printing order.
[[nodiscard]] std::span<const KeyInfo> list_keys();
// Lookup by name; '/' separators are accepted (net/ipv4/tcp_tw_reuse). nullptr if unknown.
[[nodiscard]] const KeyInfo* find_key(std::string_view name);

// Apply a file / text / one "key=value" to cfg, checking each value on its own.
// Parse rules (sysctl.conf): "key = value" or "key=value"; blank lines and lines whose
// first non-blank character is '#' or ';' are ignored; no comments after a value;
// leading/trailing whitespace is trimmed; '/' may replace '.' in keys; a key given
// twice: the later wins. A leading '-' (sysctl's "ignore failure") makes an UNKNOWN
// key be skipped silently; bad values of known keys remain errors.
// On error cfg keeps the values of the lines before the failing one.
ConfigResult load_file(Config& cfg, const std::string& path);
ConfigResult load_string(Config& cfg, std::string_view text, std::string_view source_name);
// For --set KEY=VALUE; errors start with "--set: ".
ConfigResult apply_set(Config& cfg, std::string_view assignment);
// The rules between keys. Call after the last source.
ConfigResult validate(const Config& cfg);

// Every key as "key = value", grouped with comments, loadable by load_string.
// Knobs left at auto show what they resolve to in a comment.
[[nodiscard]] std::string format(const Config& cfg);

// Combines several sources in order and validates at the end; cross-key errors
// name the file and line (or --set) where the offending key was last set.
class ConfigLoader {
 public:
  explicit ConfigLoader(Config base = {});
  ConfigResult load_file(const std::string& path);
  ConfigResult load_string(std::string_view text, std::string_view source_name);
  ConfigResult apply_set(std::string_view assignment);
  // validate(), with the origin of the blamed key as the message prefix.
  ConfigResult finish() const;
  [[nodiscard]] const Config& config() const { return cfg_; }
  // "file:line" or "--set" where `key` was last set, empty if never set.
  [[nodiscard]] std::string_view origin(std::string_view key) const;

 private:
  Config cfg_;
  std::vector<std::string> origins_;  // indexed like list_keys()
};

}  // namespace twtcp
