// SPDX-License-Identifier: Apache-2.0
#include "portal/base/bytes.hpp"

namespace portal::base {

bool constant_time_equal(ByteSpan a, ByteSpan b) noexcept {
  if (a.size() != b.size()) return false;
  // Accumulate differences through a volatile so the loop is not cut short.
  volatile Byte diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff = static_cast<Byte>(diff | (a[i] ^ b[i]));
  return diff == 0;
}

}  // namespace portal::base
