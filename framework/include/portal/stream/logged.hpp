// SPDX-License-Identifier: Apache-2.0
#pragma once

// A completion handler for co_spawn that, unlike asio::detached, does not lose an exception
// silently: it logs one line naming the task. Whatever the task accounted for must be held by
// RAII objects in its frame, so that it is released on this path too.

#include <exception>
#include <string>
#include <utility>

#include "portal/base/log.hpp"

namespace portal::stream {

/// The completion handler that logged() makes for `boost::asio::co_spawn`: a coroutine that ends
/// with an exception is logged as an error ("<task> failed: <what>") instead of being lost or
/// terminating the process; a normal end logs nothing.
struct LogFailure {
  /// The log component (e.g. "relay"); a string literal, or anything that outlives the task.
  const char* component;
  /// What the coroutine was doing, for the log line (e.g. "connection 7").
  std::string task;
  /// Called by co_spawn when the coroutine ends; logs `e` when it holds an exception.
  void operator()(std::exception_ptr e) const noexcept {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      base::log(base::LogLevel::Error, component, task + " failed: " + x.what());
    } catch (...) {
      base::log(base::LogLevel::Error, component, task + " failed: unknown exception");
    }
  }
};

/// `co_spawn(ex, task(), stream::logged("relay", "connection 7"))`.
inline LogFailure logged(const char* component, std::string task) {
  return LogFailure{component, std::move(task)};
}

}  // namespace portal::stream
