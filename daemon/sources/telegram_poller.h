// telegram_poller.h — the intake of a Telegram channel that cannot receive webhooks: getUpdates
// long polling with libcurl on [channel.ID] poll_url, each update run through the same path as a
// webhook (deliver_channel_message: journal, exactly once), and the offset kept in the store only
// after the update was handled, so a crash re-reads it and the journal recognises it. With several
// instances on PostgreSQL only the holder of the lease "channel:ID" polls.
#pragma once

#include <atomic>

#include <Poco/Logger.h>

#include "daemon/config/config.h"

namespace atendd {

// Polls until `stop` is set (noticed within about a second); never throws.
void run_telegram_poller(const ChannelConfig& channel, const Config& config, const std::atomic<bool>& stop,
                         Poco::Logger& log);

}  // namespace atendd
