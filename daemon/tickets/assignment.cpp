// assignment.cpp — see assignment.h.
#include "daemon/tickets/assignment.h"

#include <vector>

namespace atendd {

namespace {

// Agents of the department in id order (the map is ordered), so the rotation is stable.
std::vector<std::string> department_agents(const Config& config, const std::string& department) {
  std::vector<std::string> ids;
  for (const auto& [id, agent] : config.agents)
    if (department.empty() || agent.department == department) ids.push_back(id);
  return ids;
}

}  // namespace

std::string assign_responsible(const TypeConfig& type, const Config& config, Store& store) {
  switch (type.assign) {
    case AssignMode::None:
      return "";
    case AssignMode::Agent:
      return config.agent(type.assign_agent) ? type.assign_agent : "";
    case AssignMode::RoundRobin: {
      const auto agents = department_agents(config, type.department);
      if (agents.empty()) return "";
      const std::string scope = "department:" + type.department;
      const std::string last = store.last_assigned(scope);
      std::string next = agents.front();
      for (const auto& id : agents)
        if (id > last) {
          next = id;
          break;
        }
      store.set_last_assigned(scope, next);
      return next;
    }
    case AssignMode::LeastLoaded: {
      std::string best;
      int best_load = 0;
      for (const auto& id : department_agents(config, type.department)) {
        const int load = store.open_tickets_of(id);
        if (best.empty() || load < best_load) {
          best = id;
          best_load = load;
        }
      }
      return best;
    }
  }
  return "";
}

}  // namespace atendd
