// embedded_templates.h — the mail templates compiled into the binary (templates/LOCALE/*.mustache,
// turned into C++ at build time by embed_templates.cmake), so atendd renders mail with no template
// files on disk. Only the data: the Renderer (daemon/outbox/renderer.h) parses and checks them.
#pragma once

#include <map>
#include <string>

namespace atendd {

// Every template file, content byte for byte, keyed "LOCALE/NAME.mustache" or
// "LOCALE/NAME.html.mustache" (for example "pt_BR/opening.mustache").
const std::map<std::string, std::string>& embedded_templates();

}  // namespace atendd
