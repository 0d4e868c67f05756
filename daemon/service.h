// service.h — the long-running part of `atendd` (no subcommand): the outbox sender thread, which
// delivers queued mail with retries, and one IMAP poller thread per [mailbox.NAME], each with its
// own store connection. Other sources (the admin endpoint) start and stop here too as they
// arrive. main.cpp owns signals and reloads. The admin HTTP endpoint (with the messaging webhooks)
// starts and stops with the service.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <Poco/Logger.h>

#include "daemon/admin/http_server.h"
#include "daemon/config/config.h"
#include "daemon/outbox/renderer.h"

namespace atendd {

class Service {
 public:
  Service(const Config& config, Poco::Logger& log);
  ~Service();
  // Opens the store (migrations) and starts the threads; throws when the store or templates fail.
  void start();
  // Asks every thread to finish what it has in hand and waits for it.
  void stop();

  // --- admin endpoint: where each mailbox's intake stands (for /healthz, /metrics, the page).
  std::vector<MailboxHealth> mailbox_health() const;

 private:
  void outbox_loop();
  // One IMAP poller with its own store connection and pipeline, until stop().
  void mailbox_loop(const MailboxConfig& mailbox);

  const Config& config_;
  Poco::Logger& log_;
  // --- admin endpoint: the HTTP server, and the running pollers by mailbox (registered by
  // mailbox_loop while its poller exists, so status() is never called on a gone poller).
  std::unique_ptr<AdminServer> admin_;
  mutable std::mutex pollers_mutex_;
  std::map<std::string, const ImapPoller*> pollers_;
  // --- messaging channels: one Telegram getUpdates loop per channel with poll_url.
  std::vector<std::thread> channel_threads_;
  // The templates, compiled once in start() and shared by every thread (Renderer::render is
  // const and renders on a copy): about 0.5 MiB each that every thread held before.
  std::shared_ptr<const Renderer> renderer_;
  std::thread outbox_thread_;
  std::vector<std::thread> mailbox_threads_;
  std::atomic<bool> mailboxes_stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool outbox_due_ = false;  // a mailbox committed messages: their mails wait in the outbox
  // --- idle memory: mailbox batches being processed now (no page release meanwhile).
  std::atomic<int> batches_in_hand_{0};
};

}  // namespace atendd
