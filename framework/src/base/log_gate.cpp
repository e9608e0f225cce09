// SPDX-License-Identifier: Apache-2.0
#include "portal/base/log_gate.hpp"

namespace portal::base {

std::optional<std::string> LogGate::pass(std::string line,
                                         std::chrono::steady_clock::time_point now) {
  if (last_ && now - *last_ < std::chrono::seconds(1)) {
    ++left_out_;
    return std::nullopt;
  }
  if (left_out_ > 0) {
    line += " [" + std::to_string(left_out_) + " more not logged in the last second]";
  }
  last_ = now;
  left_out_ = 0;
  return line;
}

}  // namespace portal::base
