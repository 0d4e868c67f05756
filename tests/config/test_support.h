// test_support.h — helpers shared by the config tests: a temporary directory that removes
// itself, and look-ups of a problem by line, key and words of its message.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "daemon/config/config.h"

namespace atendd::test {

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "atendd-config-XXXXXX").string();
    path_ = mkdtemp(pattern.data()) ? pattern : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name, const std::string& content) const {
    std::string p = path_ + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(p).parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }

 private:
  std::string path_;
};

// True when `result` has a problem at `line` for `key` whose message contains `words`.
inline bool has_problem(const ConfigResult& result, int line, const std::string& key,
                        const std::string& words = "") {
  for (const auto& p : result.problems) {
    if (p.line == line && p.key == key && p.message.find(words) != std::string::npos) return true;
  }
  return false;
}

inline std::string all_problems(const ConfigResult& result) {
  std::string out;
  for (const auto& p : result.problems) out += p.to_string() + "\n";
  return out;
}

}  // namespace atendd::test
