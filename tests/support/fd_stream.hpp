// SPDX-License-Identifier: Apache-2.0
#pragma once

// A ByteStream over a child process's standard input and output, for interop tests against
// independent peers that speak over stdio.

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "portal/stream/byte_stream.hpp"

namespace portal::test {

struct ChildProcess {
  pid_t pid = -1;
  /// Waits for the child and returns its exit status (128 + signal if killed).
  int wait();
  /// Kills the child if it still runs (SIGKILL), then reaps it.
  void kill();
};

/// Starts `argv` with pipes on its stdin and stdout (stderr is inherited) and returns the child
/// and a ByteStream whose writes reach the child's stdin and whose reads come from its stdout.
std::pair<ChildProcess, std::unique_ptr<stream::ByteStream>> spawn_with_stream(
    const boost::asio::any_io_executor& executor, const std::vector<std::string>& argv);

}  // namespace portal::test
