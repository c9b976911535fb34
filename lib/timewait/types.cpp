// lib/timewait/types.cpp: counter names, spelled as Linux's nstat prints them (minus the
// TcpExt prefix).
#include "timewait/types.hpp"

namespace twtcp::timewait {

std::string_view counter_name(TwCounter c) noexcept {
  switch (c) {
    case TwCounter::kTW:
      return "TW";
    case TwCounter::kTWKilled:
      return "TWKilled";
    case TwCounter::kTWRecycled:
      return "TWRecycled";
    case TwCounter::kTCPTimeWaitOverflow:
      return "TCPTimeWaitOverflow";
    case TwCounter::kPAWSEstab:
      return "PAWSEstab";
    case TwCounter::kPAWSTimewait:
      return "PAWSTimewait";
    case TwCounter::kPAWSPassive:
      return "PAWSPassive";
    case TwCounter::kTCPACKSkippedTimeWait:
      return "TCPACKSkippedTimeWait";
    case TwCounter::kTCPACKSkippedFinWait2:
      return "TCPACKSkippedFinWait2";
    case TwCounter::kCount_:
      break;
  }
  return "?";
}

}  // namespace twtcp::timewait
