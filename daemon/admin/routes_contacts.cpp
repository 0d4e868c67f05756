// routes_contacts.cpp — see routes_contacts.h.
#include "daemon/admin/routes_contacts.h"

#include <sstream>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/String.h>

#include "daemon/runtime.h"

namespace atendd {

using Poco::JSON::Array;
using Poco::JSON::Object;

namespace {

bool contact_id_of(const std::string& text, std::int64_t& out) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos) return false;
  out = std::stoll(text);
  return out > 0;
}

// {"id", "identities": [{"id", "address", "name"}, …]}: the person's first contact first.
AdminResponse person_reply(Store& store, std::int64_t id) {
  Array identities;
  for (const auto& c : store.identities(id)) {
    Object o;
    o.set("id", c.id);
    o.set("address", c.address);
    o.set("name", c.name);
    identities.add(o);
  }
  Object out;
  out.set("id", id);
  out.set("identities", identities);
  std::ostringstream body;
  out.stringify(body);
  return json_reply(200, body.str());
}

}  // namespace

AdminResponse show_contact(AdminContext& context, const std::string& id_text) {
  std::int64_t id = 0;
  if (!contact_id_of(id_text, id)) return json_error(404, "no contact " + id_text);
  std::lock_guard<std::mutex> lock(context.lock);
  Store& store = context.runtime->store();
  if (!store.contact(id)) return json_error(404, "no contact " + id_text);
  return person_reply(store, id);
}

AdminResponse merge_contact(AdminContext& context, const AdminRequest& request, const std::string& id_text,
                            const AdminCaller& caller) {
  std::int64_t id = 0;
  if (!contact_id_of(id_text, id)) return json_error(404, "no contact " + id_text);
  Object::Ptr body;
  try {
    Poco::JSON::Parser parser;
    auto parsed = parser.parse(request.body);
    if (parsed.type() == typeid(Object::Ptr)) body = parsed.extract<Object::Ptr>();
  } catch (const std::exception&) {
  }
  std::int64_t other = 0;
  std::string address;
  try {
    if (body && body->has("contact")) other = body->getValue<Poco::Int64>("contact");
    if (body && body->has("address")) address = Poco::toLower(Poco::trim(body->getValue<std::string>("address")));
  } catch (const std::exception&) {
    body = nullptr;
  }
  if (!body || (other <= 0 && address.empty()))
    return json_error(400, "the body is {\"contact\": ID} or {\"address\": \"ADDRESS\"}");
  if (!address.empty() && (address.find('@') == std::string::npos || address.find_first_of(" \t\r\n<>,;") != std::string::npos))
    return json_error(400, "\"" + address + "\" is not an address");
  if (!address.empty() && (context.config.server.is_our_address(address) || context.config.agent_by_email(address)))
    return json_error(400, address + " is one of our own or an agent's address, never a customer's");

  std::lock_guard<std::mutex> lock(context.lock);
  Store& store = context.runtime->store();
  if (!store.contact(id)) return json_error(404, "no contact " + id_text);
  if (other > 0 && !store.contact(other)) return json_error(404, "no contact " + std::to_string(other));
  if (!address.empty()) other = store.find_or_add_contact(address, "").id;
  if (!store.link_contacts(id, other)) return json_error(404, "no contact " + std::to_string(other));
  context.log.information("contact " + std::to_string(other) + " linked to contact " + id_text + " by " + caller.name);
  return person_reply(store, id);
}

}  // namespace atendd
