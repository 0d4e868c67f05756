// faults_summary.cpp — prints the fault suite's summary table from the figures the tests wrote
// (one NAME.txt of key=value lines per test in the directory given) and exits 1 when any test
// lost a message, doubled an article or saw the daemon crash. Run by CTest as faults.summary,
// after the tests (a fixture cleanup).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  if (argc != 2) {
    std::fprintf(stderr, "usage: faults_summary RESULTS_DIR\n");
    return 2;
  }
  std::vector<fs::path> files;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(argv[1], error))
    if (entry.path().extension() == ".txt") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  const std::vector<std::string> columns = {"faults", "messages", "lost", "duplicated_articles", "duplicate_mails",
                                            "hostile", "crashes"};
  const std::vector<std::string> headings = {"faults injected", "messages", "lost", "dup. articles",
                                             "dup. mails sent", "hostile inputs", "crashes"};
  std::printf("%-22s", "test");
  for (const auto& h : headings) std::printf(" %15s", h.c_str());
  std::printf("  note\n");
  std::map<std::string, long> total;
  bool bad = false;
  for (const auto& file : files) {
    std::ifstream in(file);
    std::map<std::string, std::string> values;
    for (std::string line; std::getline(in, line);) {
      const auto eq = line.find('=');
      if (eq != std::string::npos) values[line.substr(0, eq)] = line.substr(eq + 1);
    }
    std::printf("%-22s", file.stem().string().c_str());
    for (const auto& c : columns) {
      const long v = std::atol(values[c].c_str());
      total[c] += v;
      std::printf(" %15ld", v);
    }
    std::printf("  %s\n", values["note"].c_str());
    bad = bad || std::atol(values["lost"].c_str()) || std::atol(values["duplicated_articles"].c_str()) ||
          std::atol(values["crashes"].c_str());
  }
  std::printf("%-22s", "TOTAL");
  for (const auto& c : columns) std::printf(" %15ld", total[c]);
  std::printf("\n%zu test(s) reported. Lost, duplicated articles and crashes must be 0: %s\n", files.size(),
              bad ? "FAILED" : "ok");
  return bad ? 1 : 0;
}
