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

/// <build>/bin/<name>.
std::string bin_path(const std::string& name);

}  // namespace portal::test
