// routes_contacts.h — /api/v1/contacts/ID (a contact with its identities) and
// /api/v1/contacts/ID/merge (links another contact — an e-mail address, a WhatsApp phone, a
// Telegram chat — to this contact's person, as `#contact link` does by mail). Linking is always an
// agent's or administrator's act: atendd never links on a customer's word alone (a messaging
// customer who types an e-mail address is not thereby its owner; see docs/admin.md).
#pragma once

#include <string>

#include "daemon/admin/http_server.h"

namespace atendd {

AdminResponse show_contact(AdminContext& context, const std::string& id);
// Body: {"contact": ID} or {"address": "ana@example.com" | "5511…@wa.channel.invalid"}; an address
// not known yet becomes a contact. 200 with the person's identities; 404 when ID is unknown.
AdminResponse merge_contact(AdminContext& context, const AdminRequest& request, const std::string& id,
                            const AdminCaller& caller);

}  // namespace atendd
