// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <string_view>

#include "portal/base/export.hpp"

namespace portal::lease {

/// The v1 SDK's lease name rule (portal-v1 §6.2): empty, or one or more Unicode letters
/// (`\p{L}`), Unicode numbers (`\p{N}`), '_' or '-', as valid UTF-8. No length limit in v1; the
/// relay bounds names through its control-packet limit.
[[nodiscard]] PORTAL_API bool is_valid_name(std::string_view name) noexcept;

/// Whether two names are equal under Unicode simple case folding, as the v1 SDK's name lookup
/// compares them (portal-v1 §6.8, Go's strings.EqualFold). Names that are not valid UTF-8 are
/// compared byte for byte.
[[nodiscard]] PORTAL_API bool same_name_ignoring_case(std::string_view a,
                                                      std::string_view b) noexcept;

/// The key under which names that same_name_ignoring_case() calls equal are equal: every code
/// point replaced by its simple case fold, as UTF-8. A name that is not valid UTF-8 keys as a
/// 0xFF byte (which valid UTF-8 never contains) followed by its bytes, so it only equals itself.
[[nodiscard]] PORTAL_API std::string fold_name(std::string_view name);

}  // namespace portal::lease
