// SPDX-License-Identifier: Apache-2.0
#include "portal/stream/byte_stream.hpp"

namespace portal::stream {

ByteStream::~ByteStream() = default;

PeerInfo ByteStream::peer_info() const { return {}; }

}  // namespace portal::stream
