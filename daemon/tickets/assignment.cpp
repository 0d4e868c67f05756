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

std::string assign_responsible(const TypeConfig& type, const Config& config, Store& store, Explanation* sink) {
  const std::string of_department = type.department.empty() ? "of any department" : "of department " + type.department;
  switch (type.assign) {
    case AssignMode::None:
      explain(sink, "assignment", "nobody", "type " + type.id + " assigns nobody");
      return "";
    case AssignMode::Agent:
      if (!config.agent(type.assign_agent)) {
        explain(sink, "assignment", "nobody", "type " + type.id + "'s fixed agent " + type.assign_agent + " is unknown");
        return "";
      }
      explain(sink, "assignment", type.assign_agent, "fixed: type " + type.id + " has assign = agent:" + type.assign_agent);
      return type.assign_agent;
    case AssignMode::RoundRobin: {
      const auto agents = department_agents(config, type.department);
      if (agents.empty()) {
        explain(sink, "assignment", "nobody", "round-robin: no agent " + of_department);
        return "";
      }
      const std::string scope = "department:" + type.department;
      const std::string last = store.last_assigned(scope);
      std::string next = agents.front();
      std::size_t position = 0;
      for (std::size_t i = 0; i < agents.size(); ++i)
        if (agents[i] > last) {
          next = agents[i];
          position = i;
          break;
        }
      store.set_last_assigned(scope, next);
      if (sink) {
        std::string rotation;
        for (const auto& id : agents) rotation += (rotation.empty() ? "" : ", ") + id;
        sink->add("assignment", next,
                  "round-robin " + of_department + ": position " + std::to_string(position + 1) + " of " +
                      std::to_string(agents.size()) + " (" + rotation + "), after " +
                      (last.empty() ? std::string("nobody yet") : last));
      }
      return next;
    }
    case AssignMode::LeastLoaded: {
      std::string best;
      int best_load = 0;
      std::string loads;
      for (const auto& id : department_agents(config, type.department)) {
        const int load = store.open_tickets_of(id);
        loads += (loads.empty() ? "" : ", ") + id + " " + std::to_string(load);
        if (best.empty() || load < best_load) {
          best = id;
          best_load = load;
        }
      }
      explain(sink, "assignment", best.empty() ? "nobody" : best,
              best.empty() ? "least loaded: no agent " + of_department
                           : "least loaded " + of_department + ": open tickets " + loads);
      return best;
    }
  }
  return "";
}

}  // namespace atendd
