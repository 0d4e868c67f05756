// idle_pages.h — gives back, in a long quiet spell, the pages of the binary and the shared
// libraries that only start-up (or the last burst of work) touched, so that the idle RSS is what
// the idle loop really uses. Only clean, private, read-only, file-backed mappings are given back
// (code, constants, symbol tables): their pages come back from the page cache on the next touch
// (a minor fault). Never an anonymous, writable or shared mapping, nor a read-only one holding
// pages this process wrote (relocations made read-only after loading): those would lose data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <string>
#include <vector>

namespace atendd {

// Addresses [start, end): a loaded object's segment.
struct AddressRange {
  std::uintptr_t start = 0;
  std::uintptr_t end = 0;
};

// One mapping of /proc/PID/smaps that may be given back.
struct ReleasableMapping {
  std::uintptr_t start = 0;
  std::uintptr_t end = 0;
  std::string path;
  std::size_t resident_kb = 0;  // its Rss: line
};

// The mappings of an smaps listing that may be given back: a file's (a path starting with '/',
// not under /dev/), private ('p'), not writable, with no anonymous page (Anonymous: 0, so nothing
// this process wrote), something resident, and lying wholly inside one of `loaded_objects` (the
// binary's and the shared libraries' segments: not a file some code mapped for a while). Every
// other mapping is left out, as is one whose Anonymous: line is missing.
std::vector<ReleasableMapping> releasable_mappings(std::istream& smaps, const std::vector<AddressRange>& loaded_objects);

// What one release did.
struct PageRelease {
  std::size_t mappings = 0;     // given back
  std::size_t resident_kb = 0;  // their resident pages before (what RSS loses, until touched again)
  std::size_t refused = 0;      // madvise refused (seccomp, an old kernel, a locked mapping)
  int first_error = 0;          // errno of the first refusal, 0 when none
};

// Holds every loaded shared library (dlopen RTLD_NOLOAD, so none is unloaded and its addresses
// reused meanwhile), reads /proc/self/smaps and gives back each releasable mapping of the binary
// and the libraries with madvise(MADV_DONTNEED), which unmaps the pages and leaves them in the
// page cache. (MADV_PAGEOUT would also drop them from the cache, but Linux does that for file
// pages only when the caller owns the file or may write to it: a daemon running as its own user is
// neither for /usr/lib, and the call then does nothing. MADV_COLD leaves them mapped.)
// Safe while other threads run: their next touch of a given-back page faults it in again.
// Never throws; a refusal is counted, not fatal.
PageRelease release_idle_pages() noexcept;

}  // namespace atendd
