// lib/timewait/timewait.hpp: the whole TIME_WAIT policy engine in one include.
#pragma once

#include "timewait/enter.hpp"    // entering TW: lifetime, overflow, TW/TWKilled
#include "timewait/paws.hpp"     // paws_check / paws_reject
#include "timewait/policy.hpp"   // TimeWaitPolicy, policy_for_model, policy_from_config
#include "timewait/process.hpp"  // timewait_process: SPEC §3 F1-F6, W1-W7
#include "timewait/recycle.hpp"  // tw_recycle per-host store rules
#include "timewait/reuse.hpp"    // tw_reuse_allowed, reuse_inherit
#include "timewait/types.hpp"    // TwEntryState, TwSegment, counters, clocks
