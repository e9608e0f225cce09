// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <vector>

namespace portal::test {

struct ProcessResult {
  int exit_code = -1;  ///< exit status, or 128 + signal number when killed by a signal
  std::string out;     ///< everything written to stdout
  std::string err;     ///< everything written to stderr
};

/// Runs `argv[0]` (a path) with the given arguments, no shell, stdin from /dev/null, and waits
/// for it. Throws std::runtime_error if it cannot be started.
ProcessResult run_process(const std::vector<std::string>& argv);

/// A process running in the background: stdout and stderr go to files (so a chatty child never
/// blocks on a full pipe). Killed (SIGKILL) on destruction if still running.
class Child {
 public:
  /// Starts `argv[0]` with the arguments; output to `out_file` and `err_file`. Throws
  /// std::runtime_error if it cannot be started.
  Child(const std::vector<std::string>& argv, std::string out_file, std::string err_file);
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();

  [[nodiscard]] std::string out() const;
  [[nodiscard]] std::string err() const;
  /// Waits until stdout holds `count` lines starting with `prefix` (true), the child exits or
  /// `timeout_ms` passes (false).
  bool wait_for_lines(const std::string& prefix, std::size_t count, int timeout_ms);
  /// Waits until stderr holds `count` occurrences of `text` (true), the child exits or
  /// `timeout_ms` passes (false).
  bool wait_for_err(const std::string& text, std::size_t count, int timeout_ms);
  void signal(int sig);
  /// Waits up to `timeout_ms` for the exit; returns the exit status (128 + signal when killed),
  /// or -1 if it is still running.
  int wait(int timeout_ms);
  [[nodiscard]] bool running();
  [[nodiscard]] int pid() const noexcept { return pid_; }

 private:
  int pid_ = -1;
  int status_ = -1;
  std::string out_file_;
  std::string err_file_;
};

/// <build>/bin/<name>.
std::string bin_path(const std::string& name);

}  // namespace portal::test
