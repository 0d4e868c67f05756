// ini_reader.h — the line reader under load_config(): turns INI text into sections, keys with
// their line numbers, and values in a Poco MapConfiguration ("section.key" → value).
// It knows the syntax only (DESIGN.md, "Configuration"); which sections and keys exist and what
// their values may be is config_loader.cpp's business. Never throws on content.
#pragma once

#include <Poco/AutoPtr.h>
#include <Poco/Util/MapConfiguration.h>

#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/config.h"

namespace atendd {

struct IniEntry {
  std::string key;  // as written, without the section
  int line = 0;
};

struct IniSection {
  std::string name;               // "server", "type.garantia"
  int line = 0;                   // of its first header
  std::vector<IniEntry> entries;  // in file order, each key once
};

struct IniDocument {
  std::vector<IniSection> sections;  // in file order of first appearance, each name once
  Poco::AutoPtr<Poco::Util::MapConfiguration> values;  // "section.key" → value, read raw
  std::vector<ConfigProblem> problems;                 // syntax, repeated sections and keys
};

// Syntax: "[section]" or "[section.NAME]" headers; "key = value"; whole-line comments starting
// with ';' or '#'; an inline comment starts at ';' or '#' preceded by whitespace; a value in
// double quotes is taken literally up to the closing quote (so it may hold " ;"); surrounding
// whitespace is trimmed; blank lines, a UTF-8 BOM and CRs before LF are ignored.
// A repeated key keeps its first value and is a problem; a repeated section header continues
// the section. `file` names the text in problems.
IniDocument read_ini(std::string_view text, const std::string& file);

}  // namespace atendd
