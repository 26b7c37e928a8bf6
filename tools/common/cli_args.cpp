#include "cli_args.hpp"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>

namespace derain::cli {

ArgParser::ArgParser(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {
  flag("help", "show this help and exit");
}

void ArgParser::option(const std::string& name, const std::string& value_name, const std::string& help,
                       const std::string& default_value, bool required) {
  order_.push_back(name);
  specs_[name] = Spec{value_name, help, default_value, required, false};
}

void ArgParser::flag(const std::string& name, const std::string& help) {
  order_.push_back(name);
  specs_[name] = Spec{"", help, "", false, true};
}

void ArgParser::epilog(const std::string& text) { epilog_ = text; }

void ArgParser::fail(const std::string& message) const {
  std::cerr << program_ << ": " << message << "\n"
            << "Try '" << program_ << " --help' for more information.\n";
  throw UsageExit{};
}

std::string ArgParser::help() const {
  std::ostringstream out;
  out << "Usage: " << program_ << " [OPTIONS]\n" << summary_ << "\n\nOptions:\n";
  for (const auto& name : order_) {
    const Spec& s = specs_.at(name);
    std::string left = "  --" + name + (s.is_flag ? "" : " " + s.value_name);
    out << left;
    out << std::string(left.size() < 30 ? 30 - left.size() : 1, ' ') << s.help;
    if (s.required) out << " (required)";
    if (!s.default_value.empty()) out << " [default: " << s.default_value << "]";
    out << "\n";
  }
  if (!epilog_.empty()) out << "\n" << epilog_ << "\n";
  return out.str();
}

void ArgParser::parse(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      if (!arg.empty() && arg[0] == '-' && arg != "-") fail("unknown option '" + arg + "'");
      positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2), value;
    bool inline_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    auto it = specs_.find(name);
    if (it == specs_.end()) fail("unknown option '--" + name + "'");
    if (it->second.is_flag) {
      if (inline_value) fail("option '--" + name + "' takes no value");
      values_[name] = "1";
    } else {
      if (!inline_value) {
        if (i + 1 >= argc) fail("option '--" + name + "' needs a value (" + it->second.value_name + ")");
        value = argv[++i];
      }
      values_[name] = value;
    }
  }
  if (flagSet("help")) {
    std::cout << help();
    std::exit(0);
  }
  for (const auto& name : order_) {
    const Spec& s = specs_.at(name);
    if (s.required && !values_.count(name)) fail("missing required option '--" + name + "'");
  }
}

bool ArgParser::has(const std::string& name) const { return values_.count(name) > 0; }

std::string ArgParser::get(const std::string& name) const {
  if (auto it = values_.find(name); it != values_.end()) return it->second;
  auto spec = specs_.find(name);
  return spec == specs_.end() ? std::string() : spec->second.default_value;
}

int ArgParser::getInt(const std::string& name, int min, int max) const {
  const std::string text = get(name);
  long long value = 0;
  bool parsed = false, in_long_range = true;
  try {
    size_t used = 0;
    value = std::stoll(text, &used);
    parsed = used == text.size() && !text.empty() && !std::isspace(static_cast<unsigned char>(text[0]));
  } catch (const std::out_of_range&) {
    parsed = true;
    in_long_range = false;  // more digits than any integer type holds
  } catch (const std::exception&) {
  }
  if (!parsed) fail("option '--" + name + "' needs an integer, got '" + text + "'");
  if (!in_long_range || value < min || value > max) {
    std::string range;
    if (min == std::numeric_limits<int>::min() && max == std::numeric_limits<int>::max())
      range = "the integer range";
    else if (max == std::numeric_limits<int>::max())
      range = ">= " + std::to_string(min);
    else
      range = std::to_string(min) + ".." + std::to_string(max);
    fail("option '--" + name + "' is out of range: " + text + " (must be " + range + ")");
  }
  return static_cast<int>(value);
}

double ArgParser::getDouble(const std::string& name) const {
  const std::string text = get(name);
  try {
    size_t used = 0;
    double value = std::stod(text, &used);
    if (used == text.size()) return value;
  } catch (const std::exception&) {
  }
  fail("option '--" + name + "' needs a number, got '" + text + "'");
}

FrameSize ArgParser::frameSize(const std::string& text) const {
  FrameSize size;
  char x = 0;
  std::istringstream in(text);
  if (!(in >> size.width >> x >> size.height) || x != 'x' || size.width < 1 || size.height < 1)
    fail("bad size '" + text + "' (expected WIDTHxHEIGHT, e.g. 640x360)");
  return size;
}

bool ArgParser::flagSet(const std::string& name) const { return values_.count(name) > 0; }

}  // namespace derain::cli
