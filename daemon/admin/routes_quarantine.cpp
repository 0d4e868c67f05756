// routes_quarantine.cpp — see routes_quarantine.h.
#include "daemon/admin/routes_quarantine.h"

#include <algorithm>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include "daemon/admin/quarantine_report.h"
#include "daemon/admin/routes_tickets.h"
#include "daemon/pipeline/inbound.h"
#include "daemon/pipeline/quarantine.h"
#include "daemon/runtime.h"

namespace atendd {

using Poco::JSON::Array;
using Poco::JSON::Object;

namespace {

AdminResponse reply_of(const QuarantineResult& r) {
  switch (r.status) {
    case QuarantineResult::Status::Done: return json_reply(200, stringify(quarantine_result_json(r)));
    case QuarantineResult::Status::StillQuarantined: {
      Object::Ptr o = quarantine_result_json(r);
      o->set("error", r.message);
      return json_reply(422, stringify(o));
    }
    case QuarantineResult::Status::NotQuarantined: return json_error(409, r.message);
    case QuarantineResult::Status::NotFound: return json_error(404, r.message);
    case QuarantineResult::Status::RawMissing: return json_error(410, r.message);
    case QuarantineResult::Status::Invalid: return json_error(400, r.message);
  }
  return json_error(500, "internal error");
}

}  // namespace

AdminResponse list_quarantine(AdminContext& context, const AdminRequest& request) {
  int limit = 100;
  const std::string limit_text = request.param("limit");
  if (!limit_text.empty()) {
    if (limit_text.size() > 4 || limit_text.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(limit_text) < 1)
      return json_error(400, "limit must be a number from 1 to 1000");
    limit = std::min(1000, std::stoi(limit_text));
  }
  std::lock_guard<std::mutex> lock(context.lock);
  Store& store = context.runtime->store();
  const QuarantineSummary summary = store.quarantine_summary();
  Object::Ptr out = new Object;
  out->set("count", summary.count);
  out->set("oldest_received_at", summary.oldest_received_at ? Poco::Dynamic::Var(rfc3339(*summary.oldest_received_at))
                                                             : Poco::Dynamic::Var());
  Array::Ptr list = new Array;
  for (const auto& e : store.quarantined(limit)) list->add(quarantine_entry_json(e));
  out->set("messages", list);
  return json_reply(200, stringify(out));
}

AdminResponse show_quarantine(AdminContext& context, const std::string& id_text) {
  std::int64_t id = 0;
  if (!parse_journal_id(id_text, id)) return json_error(404, "no journal entry " + id_text);
  std::lock_guard<std::mutex> lock(context.lock);
  Runtime& rt = *context.runtime;
  InboundPipeline pipeline(rt.store(), rt.blobs(), context.config, rt.renderer(), rt.clock(), context.log);
  Quarantine quarantine(rt.store(), rt.blobs(), pipeline, rt.clock());
  const auto detail = quarantine.show(id);
  if (!detail) return json_error(404, "no journal entry " + id_text);
  return json_reply(200, stringify(quarantine_detail_json(*detail)));
}

AdminResponse retry_quarantine(AdminContext& context, const std::string& id_text, const AdminCaller& caller) {
  std::int64_t id = 0;
  if (!id_text.empty() && !parse_journal_id(id_text, id)) return json_error(404, "no journal entry " + id_text);
  std::lock_guard<std::mutex> lock(context.lock);
  Runtime& rt = *context.runtime;
  InboundPipeline pipeline(rt.store(), rt.blobs(), context.config, rt.renderer(), rt.clock(), context.log);
  Quarantine quarantine(rt.store(), rt.blobs(), pipeline, rt.clock());
  if (id_text.empty()) {
    context.log.information("quarantine: retry of every message asked by " + caller.name);
    Array::Ptr results = new Array;
    for (const auto& r : quarantine.retry_all()) results->add(quarantine_result_json(r));
    Object::Ptr out = new Object;
    out->set("results", results);
    return json_reply(200, stringify(out));
  }
  context.log.information("quarantine: retry of journal " + id_text + " asked by " + caller.name);
  return reply_of(quarantine.retry(id));
}

std::string drop_reason_of(const AdminRequest& request) {
  try {
    Poco::JSON::Parser parser;
    const auto parsed = parser.parse(request.body);
    if (parsed.type() != typeid(Object::Ptr)) return "";
    const auto object = parsed.extract<Object::Ptr>();
    if (!object->has("reason") || !object->get("reason").isString()) return "";
    return object->getValue<std::string>("reason");
  } catch (const std::exception&) {
    return "";
  }
}

AdminResponse drop_quarantine(AdminContext& context, const std::string& id_text, const std::string& reason,
                              const AdminCaller& caller) {
  std::int64_t id = 0;
  if (!parse_journal_id(id_text, id)) return json_error(404, "no journal entry " + id_text);
  if (reason.find_first_not_of(" \t\r\n") == std::string::npos)
    return json_error(400, "a drop needs a reason: {\"reason\": \"…\"}");
  std::lock_guard<std::mutex> lock(context.lock);
  Runtime& rt = *context.runtime;
  InboundPipeline pipeline(rt.store(), rt.blobs(), context.config, rt.renderer(), rt.clock(), context.log);
  Quarantine quarantine(rt.store(), rt.blobs(), pipeline, rt.clock());
  const QuarantineResult r = quarantine.drop(id, reason, "api:" + caller.name);
  if (r.status == QuarantineResult::Status::Done)
    context.log.information("quarantine: journal " + id_text + " dropped by " + caller.name + ": " + reason);
  return reply_of(r);
}

AdminResponse ticket_why(AdminContext& context, const std::string& protocol) {
  std::lock_guard<std::mutex> lock(context.lock);
  Store& store = context.runtime->store();
  const auto ticket = store.ticket_by_protocol(protocol);
  if (!ticket) return json_error(404, "no ticket " + protocol);
  return json_reply(200, stringify(ticket_why_json(store, *ticket)));
}

}  // namespace atendd
