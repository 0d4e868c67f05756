// corpus.h — where the shared real-world mail corpus is: $ATENDD_MAIL_CORPUS when set, else
// ../shared/mail-corpus beside the checkout (compiled in as ATENDD_CORPUS_DIR). Tests that use it
// skip with a message when it is absent, so a fresh clone elsewhere still passes.
#pragma once

#include <cstdlib>
#include <string>

namespace atendd::test {

inline std::string corpus_dir() {
  const char* configured = std::getenv("ATENDD_MAIL_CORPUS");
  return configured && *configured ? std::string(configured) : std::string(ATENDD_CORPUS_DIR);
}

}  // namespace atendd::test
