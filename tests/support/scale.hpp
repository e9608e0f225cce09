// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdlib>
#include <string>

namespace portal::test {

/// PORTAL_TEST_SCALE (default 1): tests that move large amounts of data multiply their sizes by
/// it, so sanitizer runs can use less. Clamped to [0.001, 100].
inline double scale() {
  const char* s = std::getenv("PORTAL_TEST_SCALE");
  if (s == nullptr || *s == '\0') return 1.0;
  const double v = std::strtod(s, nullptr);
  if (!(v > 0.001)) return 0.001;
  return v > 100 ? 100 : v;
}

/// `bytes` scaled, at least `minimum`.
inline std::size_t scaled(std::size_t bytes, std::size_t minimum = 1) {
  const auto v = static_cast<std::size_t>(static_cast<double>(bytes) * scale());
  return v < minimum ? minimum : v;
}

}  // namespace portal::test
