// fuzz_parser.cpp — libFuzzer target for the mail parser: any bytes go through parse_message and
// to_json (the `atendd parse --json` path), which must neither crash (ASan/UBSan watch) nor print
// anything but valid UTF-8, and through the forward detector (find_forwarded_message), which must
// neither crash nor throw. Built only with -DATENDD_FUZZ=ON and clang (tests/fuzz/run).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "parsers/charset.h"
#include "parsers/forwarded_message.h"
#include "parsers/json_output.h"
#include "parsers/mime_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  const atendd::ParsedMessage message = atendd::parse_message(raw);
  const std::string json = atendd::to_json(message);
  (void)atendd::find_forwarded_message(message);
  if (json.empty() || json.front() != '{' || json.back() != '}') {
    std::fprintf(stderr, "fuzz_parser: to_json gave no JSON object\n");
    std::abort();
  }
  if (!atendd::is_valid_utf8(json)) {
    std::fprintf(stderr, "fuzz_parser: to_json gave invalid UTF-8\n");
    std::abort();
  }
  return 0;
}
