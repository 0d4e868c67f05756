// html_text.cpp — HTML to plain text over libxml2's HTML parser (recover mode, no network).
// Walks the tree without recursion so that deeply nested junk cannot exhaust the stack.
#include "parsers/html_text.h"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include <cstring>
#include <vector>

namespace atendd {
namespace {

bool name_is(const xmlNode* node, std::initializer_list<const char*> names) {
  const char* n = reinterpret_cast<const char*>(node->name);
  if (!n) return false;
  for (const char* candidate : names)
    if (std::strcmp(n, candidate) == 0) return true;
  return false;
}

class TextWriter {
 public:
  void text(const char* s, bool preformatted) {
    for (; *s; ++s) {
      const char c = *s;
      if (preformatted) {
        if (c == '\r') continue;
        out_ += c;
        pending_space_ = false;
        continue;
      }
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
        pending_space_ = true;
        continue;
      }
      if (pending_space_ && !out_.empty() && out_.back() != '\n' && out_.back() != ' ') out_ += ' ';
      pending_space_ = false;
      out_ += c;
    }
  }
  void line_break() {
    trim_trailing_blanks();
    out_ += '\n';
    pending_space_ = false;
  }
  // Ends the current line (if any) and, for paragraphs, leaves one empty line.
  void block_break(bool blank_line) {
    trim_trailing_blanks();
    pending_space_ = false;
    if (out_.empty()) return;
    if (out_.back() != '\n') out_ += '\n';
    if (blank_line && (out_.size() < 2 || out_[out_.size() - 2] != '\n')) out_ += '\n';
  }
  void cell_break() {
    if (!out_.empty() && out_.back() != '\n') pending_space_ = true;
  }
  std::string finish() {
    trim_trailing_blanks();
    // At most one empty line in a row; no blank lines at either end.
    std::string result;
    int newlines = 0;
    for (char c : out_) {
      if (c == '\n') {
        if (result.empty()) continue;
        if (++newlines > 2) continue;
      } else {
        newlines = 0;
      }
      result += c;
    }
    while (!result.empty() && (result.back() == '\n' || result.back() == ' ')) result.pop_back();
    return result;
  }

 private:
  void trim_trailing_blanks() {
    while (!out_.empty() && out_.back() == ' ') out_.pop_back();
  }
  std::string out_;
  bool pending_space_ = false;
};

bool is_block(const xmlNode* node) {
  return name_is(node, {"div", "tr", "li", "ul", "ol", "dl", "dt", "dd", "table", "form", "section",
                        "article", "header", "footer", "nav", "aside", "address", "center", "pre",
                        "fieldset", "figure", "main", "tbody", "thead", "tfoot", "caption", "hr"});
}

bool is_paragraph(const xmlNode* node) {
  return name_is(node, {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"});
}

bool is_skipped(const xmlNode* node) {
  return name_is(node, {"script", "style", "head", "title", "noscript", "template", "object", "embed"});
}

}  // namespace

std::string html_to_text(std::string_view html) {
  if (html.empty()) return {};
  // libxml2 wants xmlInitParser() once before threads parse at once (several mailboxes, and the
  // pipeline's parallel parsing); a function-local static runs it once, the others waiting.
  static const bool initialised = (xmlInitParser(), true);
  (void)initialised;
  // libxml2 takes an int length.
  const int size = html.size() > 64u * 1024 * 1024 ? 64 * 1024 * 1024 : static_cast<int>(html.size());
  htmlDocPtr doc = htmlReadMemory(html.data(), size, nullptr, "UTF-8",
                                  HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                      HTML_PARSE_NONET);
  if (!doc) return {};
  TextWriter writer;
  struct Frame {
    xmlNode* node;
    bool leaving;
    int pre_depth;
  };
  std::vector<Frame> stack;
  // Push the top-level nodes in reverse order so that they are visited in document order.
  std::vector<xmlNode*> top;
  for (xmlNode* n = doc->children; n; n = n->next) top.push_back(n);
  for (auto it = top.rbegin(); it != top.rend(); ++it) stack.push_back(Frame{*it, false, 0});

  while (!stack.empty()) {
    const Frame frame = stack.back();
    stack.pop_back();
    xmlNode* node = frame.node;
    if (frame.leaving) {
      if (is_paragraph(node)) writer.block_break(true);
      else if (is_block(node)) writer.block_break(false);
      else if (name_is(node, {"td", "th"})) writer.cell_break();
      continue;
    }
    if (node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE) {
      if (node->content) writer.text(reinterpret_cast<const char*>(node->content), frame.pre_depth > 0);
      continue;
    }
    if (node->type != XML_ELEMENT_NODE) continue;
    if (is_skipped(node)) continue;
    if (name_is(node, {"br"})) {
      writer.line_break();
      continue;
    }
    if (is_paragraph(node)) writer.block_break(true);
    else if (is_block(node)) writer.block_break(false);
    if (name_is(node, {"img"})) {
      // An image with alt text reads as that text.
      if (xmlChar* alt = xmlGetProp(node, reinterpret_cast<const xmlChar*>("alt"))) {
        writer.text(reinterpret_cast<const char*>(alt), false);
        xmlFree(alt);
      }
      continue;
    }
    const int pre_depth = frame.pre_depth + (name_is(node, {"pre", "textarea"}) ? 1 : 0);
    stack.push_back(Frame{node, true, pre_depth});
    std::vector<xmlNode*> children;
    for (xmlNode* c = node->children; c; c = c->next) children.push_back(c);
    for (auto it = children.rbegin(); it != children.rend(); ++it) stack.push_back(Frame{*it, false, pre_depth});
  }
  xmlFreeDoc(doc);
  return writer.finish();
}

}  // namespace atendd
