// config_for_tests.h — builds a checked Config from INI text for unit tests (fails the test when
// the text has problems, printing them).
#pragma once

#include <catch2/catch.hpp>

#include "daemon/config/config.h"

inline atendd::Config config_from(const std::string& text) {
  atendd::ConfigResult result = atendd::load_config_text(text, "test.ini", "/tmp");
  std::string problems;
  for (const auto& p : result.problems) problems += p.to_string() + "\n";
  INFO(problems);
  REQUIRE(result.problems.empty());
  return *result.config;
}
