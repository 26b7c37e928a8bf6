#include "key_value.h"

#include <sstream>

#include "derain/error.hpp"

namespace derain::detail {

namespace {
std::string trim(const std::string& s) {
  const char* ws = " \t\r\n";
  auto b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

[[noreturn]] void badValue(const KeyValueLine& kv, const std::string& expected) {
  throw Error("line " + std::to_string(kv.line) + ": '" + kv.key + "' needs " + expected + ", got '" +
              kv.value + "'");
}
}  // namespace

std::vector<KeyValueLine> parseKeyValues(const std::string& text) {
  std::vector<KeyValueLine> out;
  std::istringstream in(text);
  std::string raw;
  int number = 0;
  while (std::getline(in, raw)) {
    ++number;
    std::string line = trim(raw.substr(0, raw.find('#')));
    if (line.empty()) continue;
    auto eq = line.find('=');
    if (eq == std::string::npos)
      throw Error("line " + std::to_string(number) + ": expected 'key = value', got '" + line + "'");
    KeyValueLine kv{trim(line.substr(0, eq)), trim(line.substr(eq + 1)), number};
    if (kv.key.empty()) throw Error("line " + std::to_string(number) + ": empty key");
    out.push_back(kv);
  }
  return out;
}

int parseIntValue(const KeyValueLine& kv) {
  try {
    size_t used = 0;
    long v = std::stol(kv.value, &used);
    if (used == kv.value.size()) return static_cast<int>(v);
  } catch (const std::exception&) {
  }
  badValue(kv, "an integer");
}

double parseDoubleValue(const KeyValueLine& kv) {
  try {
    size_t used = 0;
    double v = std::stod(kv.value, &used);
    if (used == kv.value.size()) return v;
  } catch (const std::exception&) {
  }
  badValue(kv, "a number");
}

bool parseBoolValue(const KeyValueLine& kv) {
  if (kv.value == "true" || kv.value == "1" || kv.value == "yes") return true;
  if (kv.value == "false" || kv.value == "0" || kv.value == "no") return false;
  badValue(kv, "true or false");
}

std::vector<int> parseIntList(const KeyValueLine& kv) {
  std::vector<int> out;
  std::istringstream in(kv.value);
  std::string item;
  while (std::getline(in, item, ',')) {
    item = trim(item);
    if (item.empty()) continue;
    out.push_back(parseIntValue(KeyValueLine{kv.key, item, kv.line}));
  }
  return out;
}

}  // namespace derain::detail
