// fuzz_config.cpp — libFuzzer target for the configuration loader: any bytes as an atendd.ini go
// through load_config_text, which must never throw or crash, and must either give a Config with no
// problems or problems each naming the file (invariant 6: a bad file is reported, never used).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "daemon/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  atendd::ConfigResult result;
  try {
    result = atendd::load_config_text(text, "fuzz.ini", "/nonexistent-atendd-fuzz");
  } catch (...) {
    std::fprintf(stderr, "fuzz_config: load_config_text threw\n");
    std::abort();
  }
  if (result.config.has_value() == !result.problems.empty()) {
    std::fprintf(stderr, "fuzz_config: a config and problems, or neither\n");
    std::abort();
  }
  for (const auto& p : result.problems) {
    if (p.file != "fuzz.ini" || p.message.empty() || p.to_string().find("fuzz.ini") != 0) {
      std::fprintf(stderr, "fuzz_config: a problem without file or message: %s\n", p.to_string().c_str());
      std::abort();
    }
  }
  return 0;
}
