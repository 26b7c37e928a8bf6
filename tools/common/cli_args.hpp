// Minimal command-line parser shared by the libderain CLIs: "--name value" / "--name=value" options,
// "--flag" switches, generated --help, and a usage error (exit code 2) for anything it does not know.
#pragma once

#include <limits>
#include <map>
#include <string>
#include <vector>

namespace derain::cli {

// Exit code of a usage error (bad or missing argument), as most Unix tools.
constexpr int kUsageExit = 2;

// Thrown by ArgParser::fail after it printed the message: runMain (run_main.hpp) turns it into exit
// kUsageExit, and the unwinding on the way removes any output still pending (safe_output.hpp).
// Deliberately not a std::exception, so no "catch (const std::exception&)" swallows it.
struct UsageExit {};

struct FrameSize {
  int width = 0, height = 0;
};

class ArgParser {
 public:
  ArgParser(std::string program, std::string summary);

  // An option taking a value. An empty default and required=true make it mandatory.
  void option(const std::string& name, const std::string& value_name, const std::string& help,
              const std::string& default_value = "", bool required = false);
  // A switch without a value.
  void flag(const std::string& name, const std::string& help);
  // Free text appended to --help (examples, notes).
  void epilog(const std::string& text);

  // Parses argv. On --help prints help to stdout and exits 0; on a usage error prints the problem
  // and a hint to stderr and fails with UsageExit (see fail).
  void parse(int argc, char** argv);

  bool has(const std::string& name) const;  // given on the command line (or a flag set)
  std::string get(const std::string& name) const;
  // Usage error if not an integer in [min, max] (no wrapping: 4294967301 is out of range, not 5).
  int getInt(const std::string& name, int min = std::numeric_limits<int>::min(),
             int max = std::numeric_limits<int>::max()) const;
  double getDouble(const std::string& name) const;  // usage error if not a number
  // "640x360" -> {640, 360}; usage error naming the text where it does not start so (or a side is < 1).
  FrameSize frameSize(const std::string& text) const;
  bool flagSet(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }

  // Prints "program: message" and the --help hint to stderr, then throws UsageExit (runMain exits
  // kUsageExit).
  [[noreturn]] void fail(const std::string& message) const;
  std::string help() const;

 private:
  struct Spec {
    std::string value_name, help, default_value;
    bool required = false, is_flag = false;
  };
  std::string program_, summary_, epilog_;
  std::vector<std::string> order_;
  std::map<std::string, Spec> specs_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

}  // namespace derain::cli
