// runtime.h — what every command of the daemon needs from a checked Config: the state directory,
// the store, the blob store, the compiled templates, the clock. Built once per process (per thread
// for the store), so templates are compiled once and statements prepared once.
#pragma once

#include <memory>
#include <string>

#include <Poco/Logger.h>

#include "daemon/config/config.h"
#include "daemon/outbox/renderer.h"
#include "daemon/tickets/clock.h"
#include "storage/blob_store.h"
#include "storage/store.h"

namespace atendd {

class Runtime {
 public:
  // Creates the state directory, opens the store (migrations) and the blob store (SQLite: blobs up
  // to database_blob_max_kb in the database, larger ones under the state directory, or all under
  // blob_dir; PostgreSQL: blob_dir, or else the database), compiles the templates.
  // Throws StoreError or TemplateError.
  Runtime(const Config& config, Poco::Logger& log);
  // The same with templates already compiled (shared between threads; null = compile them).
  Runtime(const Config& config, Poco::Logger& log, std::shared_ptr<const Renderer> renderer);

  Store& store() { return *store_; }
  BlobStore& blobs() { return *blobs_; }
  const Renderer& renderer() const { return *renderer_; }
  std::shared_ptr<const Renderer> shared_renderer() const { return renderer_; }
  const Clock& clock() const { return clock_; }
  // The EHLO name: [smtp] helo, or the domain of our address.
  std::string helo() const;

 private:
  const Config& config_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<BlobStore> blobs_;  // after store_: may write through it
  std::shared_ptr<const Renderer> renderer_;
  SystemClock clock_;
};

// Compiles the configuration's templates (base + per-type overrides); throws TemplateError.
std::unique_ptr<Renderer> make_renderer(const Config& config);

}  // namespace atendd
