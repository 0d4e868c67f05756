// idle_pages.cpp — see idle_pages.h.
#include "daemon/idle_pages.h"

#include <dlfcn.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

namespace atendd {

namespace {

// One smaps entry: its header line and the two figures the choice needs.
struct SmapsEntry {
  std::uintptr_t start = 0, end = 0;
  std::string perms, path;
  std::size_t rss_kb = 0;
  std::optional<std::size_t> anonymous_kb;  // missing: the kernel did not say, so not chosen
};

bool inside_one(const SmapsEntry& e, const std::vector<AddressRange>& ranges) {
  for (const auto& r : ranges)
    if (e.start >= r.start && e.end <= r.end) return true;
  return false;
}

bool is_releasable(const SmapsEntry& e, const std::vector<AddressRange>& loaded_objects) {
  return e.perms.size() >= 4 && e.perms[1] == '-' && e.perms[3] == 'p' && e.path.size() > 1 && e.path[0] == '/' &&
         e.path.rfind("/dev/", 0) != 0 && e.anonymous_kb && *e.anonymous_kb == 0 && e.rss_kb > 0 &&
         e.end > e.start && inside_one(e, loaded_objects);
}

// The shared libraries loaded now, each held by a dlopen(RTLD_NOLOAD) reference until this
// object goes, and the address ranges of their loadable segments and the binary's. Nothing may
// throw inside dl_iterate_phdr's callbacks (the loader's lock is held there): both only fill
// vectors reserved beforehand and stop at their capacity.
class HeldObjects {
 public:
  HeldObjects() {
    std::size_t count = 0;
    dl_iterate_phdr(
        [](dl_phdr_info*, std::size_t, void* n) {
          ++*static_cast<std::size_t*>(n);
          return 0;
        },
        &count);
    std::vector<std::string> names;
    names.reserve(count + 16);  // a few more may be loaded meanwhile; any beyond are not held
    dl_iterate_phdr(
        [](dl_phdr_info* info, std::size_t, void* data) {
          auto* out = static_cast<std::vector<std::string>*>(data);
          if (info->dlpi_name && info->dlpi_name[0] == '/' && out->size() < out->capacity()) {
            try {
              out->emplace_back(info->dlpi_name);
            } catch (...) {
              return 1;
            }
          }
          return 0;
        },
        &names);
    handles_.reserve(names.size());
    held_names_.reserve(names.size());
    for (auto& name : names)
      if (void* handle = ::dlopen(name.c_str(), RTLD_LAZY | RTLD_NOLOAD)) {
        handles_.push_back(handle);
        held_names_.push_back(std::move(name));
      }
    // Now that they are held, their segments: the binary's (the empty name), and the held ones'.
    ranges_.reserve(8 * (held_names_.size() + 1));  // x86-64 objects have 4 loadable segments
    dl_iterate_phdr(
        [](dl_phdr_info* info, std::size_t, void* data) {
          auto* self = static_cast<HeldObjects*>(data);
          const bool binary = !info->dlpi_name || info->dlpi_name[0] == '\0';
          bool held = false;
          for (const auto& n : self->held_names_) held = held || n == info->dlpi_name;
          if (!binary && !held) return 0;
          const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
          for (int i = 0; i < info->dlpi_phnum; ++i) {
            const auto& ph = info->dlpi_phdr[i];
            if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
            if (self->ranges_.size() == self->ranges_.capacity()) return 1;  // the rest stay as they are
            const std::uintptr_t start = info->dlpi_addr + ph.p_vaddr;
            self->ranges_.push_back(AddressRange{start & ~(page - 1), (start + ph.p_memsz + page - 1) & ~(page - 1)});
          }
          return 0;
        },
        this);
  }
  ~HeldObjects() {
    for (void* handle : handles_) ::dlclose(handle);
  }
  HeldObjects(const HeldObjects&) = delete;
  HeldObjects& operator=(const HeldObjects&) = delete;
  const std::vector<AddressRange>& ranges() const { return ranges_; }

 private:
  std::vector<void*> handles_;
  std::vector<std::string> held_names_;
  std::vector<AddressRange> ranges_;
};

// A header line: "start-end perms offset dev inode [path]"; false for a "Key: value" line.
bool parse_header(const std::string& line, SmapsEntry& entry) {
  const auto dash = line.find('-');
  const auto space = line.find(' ');
  if (dash == std::string::npos || space == std::string::npos || dash > space) return false;
  const auto colon = line.find(':');
  if (colon != std::string::npos && colon < space) return false;  // "Rss:", "VmFlags:" …
  char* end = nullptr;
  const unsigned long long start = std::strtoull(line.c_str(), &end, 16);
  if (end != line.c_str() + dash) return false;
  const unsigned long long stop = std::strtoull(line.c_str() + dash + 1, &end, 16);
  if (end != line.c_str() + space) return false;
  std::istringstream rest(line.substr(space + 1));
  std::string offset, device, inode;
  entry = SmapsEntry{};
  if (!(rest >> entry.perms >> offset >> device >> inode)) return false;
  std::getline(rest >> std::ws, entry.path);
  entry.start = static_cast<std::uintptr_t>(start);
  entry.end = static_cast<std::uintptr_t>(stop);
  return true;
}

std::size_t kb_value(const std::string& line, std::size_t colon) {
  return static_cast<std::size_t>(std::strtoull(line.c_str() + colon + 1, nullptr, 10));
}

}  // namespace

std::vector<ReleasableMapping> releasable_mappings(std::istream& smaps, const std::vector<AddressRange>& loaded_objects) {
  std::vector<ReleasableMapping> out;
  SmapsEntry current;
  bool in_entry = false;
  auto finish = [&] {
    if (in_entry && is_releasable(current, loaded_objects))
      out.push_back(ReleasableMapping{current.start, current.end, current.path, current.rss_kb});
    in_entry = false;
  };
  std::string line;
  while (std::getline(smaps, line)) {
    SmapsEntry header;
    if (parse_header(line, header)) {
      finish();
      current = std::move(header);
      in_entry = true;
      continue;
    }
    if (!in_entry) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    if (line.compare(0, colon, "Rss") == 0) current.rss_kb = kb_value(line, colon);
    else if (line.compare(0, colon, "Anonymous") == 0) current.anonymous_kb = kb_value(line, colon);
  }
  finish();
  return out;
}

PageRelease release_idle_pages() noexcept {
  PageRelease result;
  try {
    const HeldObjects objects;  // none unloaded, its addresses reused, before the madvise below
    std::vector<ReleasableMapping> mappings;
    {
      std::ifstream smaps("/proc/self/smaps");
      if (!smaps) {
        result.first_error = ENOENT;
        return result;
      }
      mappings = releasable_mappings(smaps, objects.ranges());
    }
    for (const auto& m : mappings) {
      if (::madvise(reinterpret_cast<void*>(m.start), m.end - m.start, MADV_DONTNEED) == 0) {
        ++result.mappings;
        result.resident_kb += m.resident_kb;
      } else {
        ++result.refused;
        if (result.first_error == 0) result.first_error = errno;
      }
    }
  } catch (const std::exception&) {  // out of memory reading the listing: nothing given back
    if (result.first_error == 0) result.first_error = ENOMEM;
  }
  return result;
}

}  // namespace atendd
