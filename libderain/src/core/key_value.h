// "key = value" text with '#' comments: the format of model configs (and trainer config files).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace derain::detail {

struct KeyValueLine {
  std::string key;
  std::string value;
  int line = 0;  // 1-based, for error messages
};

// Parses the text; throws derain::Error naming the line for a line without '=' or with an empty key.
std::vector<KeyValueLine> parseKeyValues(const std::string& text);

// Strict conversions; throw derain::Error naming the key and line.
int parseIntValue(const KeyValueLine& kv);
double parseDoubleValue(const KeyValueLine& kv);
std::vector<int> parseIntList(const KeyValueLine& kv);  // "2, 4, 8" (may be empty)
bool parseBoolValue(const KeyValueLine& kv);            // true/false, 1/0, yes/no

}  // namespace derain::detail
