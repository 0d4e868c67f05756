// failpoints.h — named crash points for the tests of invariant 1 ("a crash at any point means the
// message is fetched again and recognised as already done"). Inert unless the environment
// variable ATENDD_FAILPOINT names the point; never set in production.
#pragma once

#include <cstdlib>
#include <cstring>

namespace atendd {

// True when ATENDD_FAILPOINT holds `name` (a comma-separated list is allowed).
inline bool failpoint(const char* name) {
  static const char* const configured = std::getenv("ATENDD_FAILPOINT");
  if (!configured || !*configured) return false;
  const size_t length = std::strlen(name);
  for (const char* p = std::strstr(configured, name); p; p = std::strstr(p + 1, name)) {
    const bool starts = p == configured || p[-1] == ',';
    const bool ends = p[length] == '\0' || p[length] == ',';
    if (starts && ends) return true;
  }
  return false;
}

// Ends the process at once, as a SIGKILL would: no destructors, no flush, no cleanup.
[[noreturn]] inline void crash_here() { std::_Exit(137); }

}  // namespace atendd
