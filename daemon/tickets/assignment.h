// assignment.h — who becomes responsible for a new ticket, by the type's `assign` rule:
// a fixed agent, round-robin over the type's department (a cursor kept in the store), or the
// agent of the department with the fewest open tickets. Nobody when the rule finds no agent.
#pragma once

#include <string>

#include "daemon/config/config.h"
#include "daemon/pipeline/explanation.h"
#include "storage/store.h"

namespace atendd {

// Returns the agent id, or "" when nobody is assigned. Writes the round-robin cursor in the
// caller's transaction. `explain` (may be null) gets the agent and why: the fixed agent, the
// round-robin position, the loads compared.
std::string assign_responsible(const TypeConfig& type, const Config& config, Store& store,
                               Explanation* explain = nullptr);

}  // namespace atendd
