// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <charconv>
#include <string_view>
#include <type_traits>

namespace portal::base {

/// Parses all of `text` as an unsigned decimal number into `out`: no sign, no spaces, no
/// trailing characters, no overflow. Returns false (and leaves `out` unspecified) otherwise.
template <class T>
[[nodiscard]] bool parse_unsigned(std::string_view text, T& out) noexcept {
  static_assert(std::is_unsigned_v<T>);
  if (text.empty()) return false;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc{} && ptr == end;
}

/// `text` without leading and trailing spaces and tabs (HTTP's optional whitespace).
[[nodiscard]] constexpr std::string_view trim_blanks(std::string_view text) noexcept {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace portal::base
