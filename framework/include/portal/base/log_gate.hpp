// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "portal/base/export.hpp"

namespace portal::base {

/// At most one line a second for one kind of event, so that a peer cannot buy log volume with
/// what it sends: pass() returns the line to write (followed by the count of lines left out since
/// the last one, when there were any), or nothing while a line went out less than a second
/// before `now`. Not thread-safe.
class PORTAL_API LogGate {
 public:
  /// Offers `line` at monotonic time `now`. Returns it when no line passed in the second before
  /// `now`, with " [N more not logged in the last second]" appended when N lines were held back
  /// since the last one; otherwise counts it as held back and returns nothing.
  [[nodiscard]] std::optional<std::string> pass(std::string line,
                                                std::chrono::steady_clock::time_point now);

 private:
  std::optional<std::chrono::steady_clock::time_point> last_;
  std::uint64_t left_out_ = 0;
};

}  // namespace portal::base
