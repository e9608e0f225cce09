// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <string_view>

#include "portal/base/bytes.hpp"
#include "portal/base/export.hpp"
#include "portal/base/result.hpp"

namespace portal::base {

/// Lower-case hex of `b`.
PORTAL_API std::string hex_encode(ByteSpan b);
/// Decodes hex (either case). Errors: Errc::InvalidHex on an odd length or a non-hex character.
PORTAL_API Result<Bytes> hex_decode(std::string_view text);

/// RFC 4648 base32, alphabet A-Z2-7, upper case, without '=' padding (the Portal v1 ID form).
PORTAL_API std::string base32_encode(ByteSpan b);
/// Decodes unpadded upper-case base32. Errors: Errc::InvalidBase32 on a character outside the
/// alphabet (lower case and '=' included), an impossible length, or non-zero trailing bits.
PORTAL_API Result<Bytes> base32_decode(std::string_view text);

/// RFC 4648 base64 with '=' padding. `line_length` > 0 inserts '\n' after every that many
/// characters (64 for PEM); the output then ends with '\n'.
PORTAL_API std::string base64_encode(ByteSpan b, std::size_t line_length = 0);
/// Decodes padded base64, ignoring ASCII whitespace (so PEM bodies decode directly).
/// Errors: Errc::InvalidBase64 on any other character, bad padding or non-zero trailing bits.
PORTAL_API Result<Bytes> base64_decode(std::string_view text);

}  // namespace portal::base
