// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <boost/json.hpp>

#include <string>
#include <string_view>

#include "portal/base/bytes.hpp"

namespace portal::test {

/// Parses tests/vectors/<name> (a copy of shared/spec/vectors). Fails the test on error.
boost::json::value load_vectors(std::string_view name);

/// The string at `key` of `obj`.
std::string str(const boost::json::value& obj, std::string_view key);

/// The bytes of the hex string at `key` of `obj`.
base::Bytes hex(const boost::json::value& obj, std::string_view key);

/// Decodes hex text; fails the test on malformed input.
base::Bytes from_hex(std::string_view text);

}  // namespace portal::test
