// SPDX-License-Identifier: Apache-2.0
#include "portal/stream/byte_stream.hpp"

namespace portal::stream {

ByteStream::~ByteStream() = default;

}  // namespace portal::stream
