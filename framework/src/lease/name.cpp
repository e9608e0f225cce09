// SPDX-License-Identifier: Apache-2.0
#include "portal/lease/name.hpp"

#include <algorithm>
#include <cstdint>
#include <iterator>

namespace portal::lease {
namespace {

struct Range {
  std::uint32_t first;
  std::uint32_t last;
};

constexpr Range kLettersDigits[] = {
#include "unicode_letters_digits.inc"
};

struct Fold {
  std::uint32_t from;
  std::uint32_t to;
};

constexpr Fold kSimpleFold[] = {
#include "unicode_simple_fold.inc"
};

std::uint32_t simple_fold(std::uint32_t cp) noexcept {
  const auto* it = std::lower_bound(std::begin(kSimpleFold), std::end(kSimpleFold), cp,
                                    [](const Fold& f, std::uint32_t c) { return f.from < c; });
  return it != std::end(kSimpleFold) && it->from == cp ? it->to : cp;
}

bool letter_or_digit(std::uint32_t cp) noexcept {
  // The first range whose last code point is >= cp is the only one that can hold it.
  const auto* it = std::lower_bound(std::begin(kLettersDigits), std::end(kLettersDigits), cp,
                                    [](const Range& r, std::uint32_t c) { return r.last < c; });
  return it != std::end(kLettersDigits) && it->first <= cp;
}

// Decodes one UTF-8 sequence at `s[i]`; returns false for anything that is not well-formed
// (overlong forms, surrogates and values above U+10FFFF included).
bool next_code_point(std::string_view s, std::size_t& i, std::uint32_t& cp) noexcept {
  const auto b0 = static_cast<unsigned char>(s[i]);
  std::size_t len = 0;
  std::uint32_t min = 0;
  if (b0 < 0x80) {
    cp = b0;
    ++i;
    return true;
  } else if ((b0 & 0xe0) == 0xc0) {
    len = 2, cp = b0 & 0x1f, min = 0x80;
  } else if ((b0 & 0xf0) == 0xe0) {
    len = 3, cp = b0 & 0x0f, min = 0x800;
  } else if ((b0 & 0xf8) == 0xf0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return false;
  }
  if (s.size() - i < len) return false;
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xc0) != 0x80) return false;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
  i += len;
  return true;
}

}  // namespace

bool is_valid_name(std::string_view name) noexcept {
  std::size_t i = 0;
  while (i < name.size()) {
    std::uint32_t cp = 0;
    if (!next_code_point(name, i, cp)) return false;
    if (cp != '_' && cp != '-' && !letter_or_digit(cp)) return false;
  }
  return true;  // the empty name is allowed ("unnamed")
}

bool same_name_ignoring_case(std::string_view a, std::string_view b) noexcept {
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    std::uint32_t ca = 0, cb = 0;
    if (!next_code_point(a, i, ca) || !next_code_point(b, j, cb)) return a == b;
    if (ca != cb && simple_fold(ca) != simple_fold(cb)) return false;
  }
  return i == a.size() && j == b.size();
}

std::string fold_name(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  std::size_t i = 0;
  while (i < name.size()) {
    std::uint32_t cp = 0;
    if (!next_code_point(name, i, cp)) return '\xff' + std::string(name);
    cp = simple_fold(cp);
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }
  return out;
}

}  // namespace portal::lease
