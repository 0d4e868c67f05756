// outbox_claims.cpp — see outbox_claims.h.
#include "daemon/outbox/outbox_claims.h"

#include <exception>

namespace atendd {

void UnrecordedSends::record(Store& store, Timestamp now) {
  while (!ids_.empty()) {
    store.mark_outbox_sent(ids_.back(), now);
    ids_.pop_back();
  }
}

void give_back(Store& store, const std::vector<OutboxMail>& batch, std::size_t from) noexcept {
  for (std::size_t i = from; i < batch.size(); ++i) {
    try {
      store.release_outbox(batch[i].id);
    } catch (const std::exception&) {
      return;
    }
  }
}

}  // namespace atendd
