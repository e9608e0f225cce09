// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>
#include <utility>

#include "portal/stream/byte_stream.hpp"

namespace portal::stream {

/// Two connected in-process byte streams: what one writes the other reads. Each direction
/// buffers at most `capacity` bytes; a writer waits while its direction is full, so a slow
/// reader slows the writer (backpressure), as a socket would.
///
/// Both ends must be used from the same single-threaded executor (an io_context run by one
/// thread, or a strand). For tests, for connecting components inside one process, and as the
/// reference implementation of ByteStream.
[[nodiscard]] PORTAL_API std::pair<std::unique_ptr<ByteStream>, std::unique_ptr<ByteStream>>
make_memory_pipe(boost::asio::any_io_executor executor, std::size_t capacity = 256 * 1024);

}  // namespace portal::stream
