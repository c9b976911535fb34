// twtcp/close_reason.hpp: why a connection reached CLOSED. Shared by the
// per-connection state machine (lib/tcp) and the public Stack API.
#pragma once

#include <cstdint>
#include <string_view>

namespace twtcp {

enum class CloseReason : std::uint8_t {
  kNone,
  kNormal,  // orderly close (LAST_ACK's FIN ACKed); also a connection that went on into TIME_WAIT
  kPeerReset,   // RST accepted
  kRefused,     // RST answering our SYN
  kTimeout,     // retransmissions exhausted
  kLocalReset,  // abort(), close() with unread data, close_linger0()
};

// "none", "normal", "peer-reset", "refused", "timeout", "local-reset".
[[nodiscard]] std::string_view to_string(CloseReason r) noexcept;

}  // namespace twtcp
