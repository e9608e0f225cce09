// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>

#include "portal/base/bytes.hpp"
#include "portal/stream/byte_stream.hpp"

namespace portal::stream {

/// `inner` with `prefix` put back in front of it: reads return the prefix first, then the inner
/// stream's bytes. For bytes a protocol layer read past its own message (the first bytes of a
/// relayed connection that arrived with the ConnectionResponse). Writes go straight through.
/// An empty prefix returns `inner` itself.
[[nodiscard]] PORTAL_API std::unique_ptr<ByteStream> make_prefixed_stream(
    std::unique_ptr<ByteStream> inner, base::Bytes prefix);

}  // namespace portal::stream
