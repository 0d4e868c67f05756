// service.h — the long-running part of `atendd` (no subcommand): the outbox sender thread, which
// delivers queued mail with retries, and one IMAP poller thread per [mailbox.NAME], each with its
// own store connection. Other sources (the admin endpoint) start and stop here too as they
// arrive. main.cpp owns signals and reloads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include <Poco/Logger.h>

#include "daemon/config/config.h"

namespace atendd {

class Service {
 public:
  Service(const Config& config, Poco::Logger& log);
  ~Service();
  // Opens the store (migrations) and starts the threads; throws when the store or templates fail.
  void start();
  // Asks every thread to finish what it has in hand and waits for it.
  void stop();

 private:
  void outbox_loop();
  // One IMAP poller with its own store connection and pipeline, until stop().
  void mailbox_loop(const MailboxConfig& mailbox);

  const Config& config_;
  Poco::Logger& log_;
  std::thread outbox_thread_;
  std::vector<std::thread> mailbox_threads_;
  std::atomic<bool> mailboxes_stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

}  // namespace atendd
