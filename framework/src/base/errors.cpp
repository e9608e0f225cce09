// SPDX-License-Identifier: Apache-2.0
#include "portal/base/result.hpp"

#include "detail/error_category.hpp"

namespace portal::base {
namespace {

const char* describe(Errc e) noexcept {
  switch (e) {
    case Errc::InvalidHex: return "invalid hex text";
    case Errc::InvalidBase32: return "invalid base32 text";
    case Errc::InvalidBase64: return "invalid base64 text";
    case Errc::BufferLimitExceeded: return "buffer limit exceeded";
    case Errc::RandomSourceFailed: return "the operating system's random source failed";
    case Errc::RandomSourceExhausted: return "replayed random sequence exhausted";
    case Errc::InvalidLength: return "input has the wrong length";
    case Errc::LengthTooLarge: return "length prefix exceeds the maximum";
    case Errc::LengthTooSmall: return "length prefix is below the minimum";
    case Errc::InvalidUri:
      return "invalid URI (expected scheme://host:port[/path] or scheme:///absolute/path)";
    case Errc::InvalidAddressRange: return "not an IP address or CIDR range";
    case Errc::UriPathTooLong:
      return "socket path too long (a scheme:///path URI's path has at most 107 bytes)";
  }
  return nullptr;
}

}  // namespace

const boost::system::error_category& base_category() noexcept {
  static const detail::EnumCategory<Errc> category("portal.base", describe);
  return category;
}

}  // namespace portal::base
