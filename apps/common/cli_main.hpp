// SPDX-License-Identifier: Apache-2.0
#pragma once

// Shared command-line conventions of the Portal apps: every error is one line on stderr,
// "<program>: error: <reason>", with a non-zero exit; --help prints to stdout and exits 0.

#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <functional>
#include <iostream>
#include <stdexcept>
#include <string>

namespace portal::apps {

/// An error the app reports to the user, with the exit code to use.
class UsageError : public std::runtime_error {
 public:
  explicit UsageError(const std::string& what, int exit_code = 1)
      : std::runtime_error(what), exit_code_(exit_code) {}
  [[nodiscard]] int exit_code() const noexcept { return exit_code_; }

 private:
  int exit_code_;
};

/// Installs the one-line failure message on `app` (inherited by subcommands created later).
inline void use_one_line_errors(CLI::App& app) {
  app.failure_message([](const CLI::App* failed, const CLI::Error& e) {
    const CLI::App* root = failed;
    while (root->get_parent() != nullptr) root = root->get_parent();
    return root->get_name() + ": error: " + e.what() + " (see --help)\n";
  });
}

/// Parses the command line and runs the selected action. Every exception becomes one line on
/// stderr and a non-zero exit code; nothing escapes main().
inline int run_cli(CLI::App& app, int argc, char** argv, const std::function<int()>& run) {
  try {
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return app.exit(e);
    }
    return run();
  } catch (const UsageError& e) {
    std::cerr << app.get_name() << ": error: " << e.what() << '\n';
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << app.get_name() << ": error: " << e.what() << '\n';
    return 1;
  } catch (...) {
    std::cerr << app.get_name() << ": error: unexpected failure\n";
    return 1;
  }
}

}  // namespace portal::apps
