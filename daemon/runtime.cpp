// runtime.cpp — see runtime.h.
#include "daemon/runtime.h"

#include <Poco/File.h>

namespace atendd {

std::unique_ptr<Renderer> make_renderer(const Config& config) {
  auto renderer = std::make_unique<Renderer>(config.server.templates_dir, config.server.locale);
  for (const auto& type : config.types)
    if (!type.templates_dir.empty()) renderer->add_type_overrides(type.id, type.templates_dir);
  // The canned answers a workflow stage offers (stage_NAME = answers:…) must exist.
  for (const auto& [id, workflow] : config.workflows)
    for (const auto& [stage, options] : workflow.stage_options)
      for (const auto& answer : options.canned_answers) {
        if (Renderer::answer(config.server.templates_dir, config.server.locale, answer)) continue;
        std::string names;
        for (const auto& name : Renderer::answer_names(config.server.templates_dir, config.server.locale))
          names += (names.empty() ? "" : ", ") + name;
        throw TemplateError("[workflow." + id + "] stage_" + stage + ": no canned answer \"" + answer + "\" in " +
                            config.server.locale + "/answers/ (the answers: " + names + ")");
      }
  return renderer;
}

namespace {

// SQLite: small blobs in the database, the rest as files under the state directory, or every new
// blob a file under blob_dir when one is named (still reading the database, where blobs written
// before blob_dir was set are). PostgreSQL: blob_dir's files, or else the database alone.
std::unique_ptr<BlobStore> make_blob_store(const Config& config, Store& store) {
  const ServerConfig& server = config.server;
  if (server.database.rfind("sqlite:", 0) == 0) {
    const bool shared_dir = !server.blob_dir.empty();
    const std::size_t database_max_bytes =
        shared_dir ? 0 : static_cast<std::size_t>(server.database_blob_max_kb) * 1024;
    return std::make_unique<BlobStore>(shared_dir ? server.blob_dir : server.state_dir, store, database_max_bytes);
  }
  if (!server.blob_dir.empty()) return std::make_unique<BlobStore>(server.blob_dir);
  return std::make_unique<BlobStore>(store);
}

}  // namespace

Runtime::Runtime(const Config& config, Poco::Logger& log) : Runtime(config, log, nullptr) {}

Runtime::Runtime(const Config& config, Poco::Logger& log, std::shared_ptr<const Renderer> renderer)
    : config_(config),
      store_((Poco::File(config.server.state_dir).createDirectories(), open_store(config.server.database))),
      blobs_(make_blob_store(config, *store_)),
      renderer_(renderer ? std::move(renderer) : std::shared_ptr<const Renderer>(make_renderer(config))) {
  log.debug("state in " + config.server.state_dir + ", database " + config.server.database);
}

std::string Runtime::helo() const {
  if (!config_.smtp.helo.empty()) return config_.smtp.helo;
  const auto at = config_.server.address.rfind('@');
  return at == std::string::npos ? std::string("localhost") : config_.server.address.substr(at + 1);
}

}  // namespace atendd
