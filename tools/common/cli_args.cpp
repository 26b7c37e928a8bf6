#include "cli_args.hpp"

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
  std::exit(kUsageExit);
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

int ArgParser::getInt(const std::string& name) const {
  const std::string text = get(name);
  try {
    size_t used = 0;
    long value = std::stol(text, &used);
    if (used == text.size()) return static_cast<int>(value);
  } catch (const std::exception&) {
  }
  fail("option '--" + name + "' needs an integer, got '" + text + "'");
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

bool ArgParser::flagSet(const std::string& name) const { return values_.count(name) > 0; }

}  // namespace derain::cli
