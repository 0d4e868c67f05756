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

Runtime::Runtime(const Config& config, Poco::Logger& log) : Runtime(config, log, nullptr) {}

Runtime::Runtime(const Config& config, Poco::Logger& log, std::shared_ptr<const Renderer> renderer)
    : config_(config),
      store_((Poco::File(config.server.state_dir).createDirectories(), open_store(config.server.database))),
      blobs_(!config.server.blob_dir.empty() ? std::make_unique<BlobStore>(config.server.blob_dir)
             : config.server.database.rfind("sqlite:", 0) == 0 ? std::make_unique<BlobStore>(config.server.state_dir)
                                                              : std::make_unique<BlobStore>(*store_)),
      renderer_(renderer ? std::move(renderer) : std::shared_ptr<const Renderer>(make_renderer(config))) {
  log.debug("state in " + config.server.state_dir + ", database " + config.server.database);
}

std::string Runtime::helo() const {
  if (!config_.smtp.helo.empty()) return config_.smtp.helo;
  const auto at = config_.server.address.rfind('@');
  return at == std::string::npos ? std::string("localhost") : config_.server.address.substr(at + 1);
}

}  // namespace atendd
