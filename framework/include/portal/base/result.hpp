// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <type_traits>

#include "portal/base/export.hpp"

namespace portal::base {

/// The error type every Portal API returns. Each module defines an `enum class Errc` with its
/// own category, so `ec.category().name()` says which module failed and `ec.message()` why.
using ErrorCode = boost::system::error_code;

/// A value or an ErrorCode. Protocol cores return this instead of throwing; peer input never
/// raises an exception. Calling value() on an error throws, so callers test first.
template <class T>
using Result = boost::system::result<T, ErrorCode>;

/// Errors of the base module.
enum class Errc {
  InvalidHex = 1,         ///< text is not an even-length run of hex digits
  InvalidBase32,          ///< text is not unpadded RFC 4648 base32 (A-Z, 2-7)
  InvalidBase64,          ///< text is not padded RFC 4648 base64
  BufferLimitExceeded,    ///< a buffer would grow past its configured limit
  RandomSourceFailed,     ///< the operating system's random source failed
  RandomSourceExhausted,  ///< a replayed random sequence has no bytes left
  InvalidLength,          ///< an input has the wrong length for its type
  LengthTooLarge,         ///< a length prefix exceeds the configured maximum
  LengthTooSmall,         ///< a length prefix is below the minimum for its message
  InvalidUri,             ///< not scheme://host:port[/path]
  InvalidAddressRange,    ///< not an IP address or CIDR range
};

/// The category of base::Errc ("portal.base").
PORTAL_API const boost::system::error_category& base_category() noexcept;

/// `e` as an error code of this module's category. Found by argument-dependent lookup, it
/// lets an Errc convert to base::ErrorCode and compare with one.
inline ErrorCode make_error_code(Errc e) noexcept { return {static_cast<int>(e), base_category()}; }

}  // namespace portal::base

template <>
struct boost::system::is_error_code_enum<portal::base::Errc> : std::true_type {};
