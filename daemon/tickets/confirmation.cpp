// confirmation.cpp — see confirmation.h.
#include "daemon/tickets/confirmation.h"

#include <cctype>
#include <sstream>
#include <vector>

namespace atendd {

namespace {

// The ASCII letter of a Latin-1 accented letter written in UTF-8 as C3 xx; 0 for other bytes.
char unaccented(unsigned char second) {
  const unsigned char c = second | 0x20;  // C3 80-9F are the capitals of C3 A0-BF
  if (c >= 0xA0 && c <= 0xA5) return 'a';
  if (c == 0xA7) return 'c';
  if (c >= 0xA8 && c <= 0xAB) return 'e';
  if (c >= 0xAC && c <= 0xAF) return 'i';
  if (c == 0xB1) return 'n';
  if (c >= 0xB2 && c <= 0xB6) return 'o';
  if (c >= 0xB9 && c <= 0xBC) return 'u';
  if (c == 0xBD || c == 0xBF) return 'y';
  return 0;
}

std::vector<std::string> words_of(const std::string& normalised) {
  std::vector<std::string> words;
  std::istringstream in(normalised);
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

// "não", "not", "no", "nem", "nunca", "never", and the "t" of "can't" / "isn't" / "don't".
bool is_negation(const std::string& word) {
  for (const char* n : {"nao", "not", "no", "nem", "nunca", "never", "t"})
    if (word == n) return true;
  return false;
}

}  // namespace

std::string normalise_phrase(const std::string& text) {
  std::string out;
  bool space = false;
  auto put = [&](char c) {
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == 0xC3 && i + 1 < text.size()) {
      if (const char plain = unaccented(static_cast<unsigned char>(text[i + 1]))) {
        put(plain);
        ++i;
        continue;
      }
    }
    if (c == 0xC2 && i + 1 < text.size()) {  // U+0080-U+00BF: no-break space, « » ¡ ¿ …
      space = true;
      ++i;
      continue;
    }
    if (c == 0xE2 && i + 2 < text.size() && (text[i + 1] == '\x80' || text[i + 1] == '\x81')) {
      space = true;  // U+2000-U+207F: dashes, quotes, ellipsis, spaces
      i += 2;
      continue;
    }
    if (c >= 0x80) {
      put(static_cast<char>(c));  // other scripts stay as they are
    } else if (std::isalnum(c)) {
      put(static_cast<char>(std::tolower(c)));
    } else {
      space = true;
    }
  }
  return out;
}

std::string approval_phrase(const std::string& new_text, const ConfirmationConfig& confirmation) {
  // Quoted lines that the splitter left in the new part are history, not what the customer says.
  std::string own;
  std::istringstream lines(new_text);
  for (std::string line; std::getline(lines, line);) {
    const auto first = line.find_first_not_of(" \t");
    if (first != std::string::npos && line[first] == '>') continue;
    own += line + "\n";
  }
  const std::vector<std::string> words = words_of(normalise_phrase(own));
  for (const auto& [locale, phrases] : confirmation.phrases) {
    for (const auto& phrase : phrases) {
      const std::vector<std::string> wanted = words_of(normalise_phrase(phrase));
      if (wanted.empty() || wanted.size() > words.size()) continue;
      for (size_t at = 0; at + wanted.size() <= words.size(); ++at) {
        bool same = true;
        for (size_t k = 0; k < wanted.size() && same; ++k) same = words[at + k] == wanted[k];
        if (same && (at == 0 || !is_negation(words[at - 1]))) return phrase;
      }
    }
  }
  return "";
}

}  // namespace atendd
