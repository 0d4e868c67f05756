// outbox_claims.h — what both outbox senders (SMTP, messaging channels) do when the store refuses
// to record the fate of a mail they claimed: a mail that went out is remembered and recorded
// before anything else is sent (never sent twice by this sender), and the rest of the claimed
// batch is given back at once instead of waiting out its lease.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "storage/store.h"

namespace atendd {

class UnrecordedSends {
 public:
  void add(std::int64_t outbox_id) { ids_.push_back(outbox_id); }
  // Marks every remembered mail sent at `now`; throws StoreError (keeping the rest) while the
  // store still refuses.
  void record(Store& store, Timestamp now);

 private:
  std::vector<std::int64_t> ids_;
};

// Releases the claimed mails batch[from…] (no attempt made). Best effort: when the store refuses
// this too, they wait for their lease to end.
void give_back(Store& store, const std::vector<OutboxMail>& batch, std::size_t from) noexcept;

}  // namespace atendd
