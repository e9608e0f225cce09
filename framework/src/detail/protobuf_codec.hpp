// SPDX-License-Identifier: Apache-2.0
#pragma once

// Private to libportal: the two protobuf calls every v1 codec needs, with the length check that
// keeps peer bytes from overflowing protobuf's int sizes.

#include <climits>

#include "portal/base/bytes.hpp"

namespace portal::detail {

/// Parses `bytes` into `msg`; false on malformed input (never throws).
template <class Message>
bool parse_message(Message& msg, base::ByteSpan bytes) {
  return bytes.size() <= static_cast<std::size_t>(INT_MAX) &&
         msg.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

/// Serializes `msg` (fields in number order, defaults omitted: the encoding v1 expects).
template <class Message>
base::Bytes serialize_message(const Message& msg) {
  base::Bytes out(msg.ByteSizeLong());
  msg.SerializeWithCachedSizesToArray(out.data());
  return out;
}

}  // namespace portal::detail
