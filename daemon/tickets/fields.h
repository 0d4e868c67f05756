// fields.h — the typed fields a type defines (config.h FieldSpec): a value checked and written in
// one canonical form per kind, and which required fields a ticket still lacks. Pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "daemon/config/config.h"

namespace atendd {

struct FieldValue {
  bool ok = false;
  std::string value;  // canonical: int without leading zeros, money as 1234.50, date YYYY-MM-DD
  std::string error;  // when not ok: what is wrong, in words for the agent
};

// Checks `raw` against the field's kind.
FieldValue check_field_value(const FieldSpec& field, const std::string& raw);
// An amount in cents as the money kind writes it: "1234.50", "-3.05".
std::string money_text(std::int64_t cents);
// "product (text), quantity (int), …": the fields of a type, for errors.
std::string describe_fields(const TypeConfig& type);
// The names of the required fields (to open when `to_open`, and to close when `to_close`) that
// have no value in `values`.
std::vector<std::string> missing_fields(const TypeConfig& type, const std::map<std::string, std::string>& values,
                                        bool to_open, bool to_close);

}  // namespace atendd
