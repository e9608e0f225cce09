// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>

#include "portal/stream/byte_stream.hpp"

namespace portal::stream {

/// A ByteStream over POSIX stream descriptors that are already open: the two ends of pipes (a
/// child process's stdin and stdout), a socketpair, or a connected socket. Takes ownership.
///
/// - `read_fd` and `write_fd` may be the same descriptor (a socket). Then shutdown_write() is
///   shutdown(SHUT_WR); with two descriptors it closes `write_fd`.
/// - End of stream on `read_fd` reads as 0; a reset or broken pipe is an error.
/// This is an adapter, not a transport: it neither connects, listens nor resolves names.
[[nodiscard]] PORTAL_API std::unique_ptr<ByteStream> make_descriptor_stream(
    const boost::asio::any_io_executor& executor, int read_fd, int write_fd);

}  // namespace portal::stream
