// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <string>

#include "portal/base/bytes.hpp"
#include "portal/base/export.hpp"
#include "portal/base/result.hpp"

namespace portal::stream {

/// Who is at the other end of a network stream, for limits and logs.
struct PeerInfo {
  std::string address;  ///< the remote IP address as text; empty when there is none (pipes)
  /// When the underlying connection was accepted or established (before any upgrade); the
  /// epoch value when unknown.
  std::chrono::steady_clock::time_point connected_at{};
};

/// An ordered, reliable, bidirectional byte stream driven by Asio coroutines: a TCP or WebSocket
/// connection, a yamux stream, an in-memory pipe, or a secure stream on top of any of them.
///
/// One read and one write may be outstanding at a time (a reader and a writer coroutine can run
/// concurrently). Operations run on get_executor(); callers invoke them from that executor.
class PORTAL_API ByteStream {
 public:
  ByteStream() = default;
  ByteStream(const ByteStream&) = delete;
  ByteStream& operator=(const ByteStream&) = delete;
  virtual ~ByteStream();

  /// The executor every operation of this stream runs on and must be started from; fixed for the
  /// stream's life.
  [[nodiscard]] virtual boost::asio::any_io_executor get_executor() = 0;

  /// Reads at least one byte into `buffer` (which must not be empty) and returns how many.
  /// Returns 0 only at the end of the stream (the peer half-closed).
  /// Errors: the transport's errors; boost::asio::error::operation_aborted after close().
  virtual boost::asio::awaitable<base::Result<std::size_t>> async_read_some(
      base::MutableByteSpan buffer) = 0;

  /// Writes all of `data` (the caller keeps it alive until the operation completes).
  virtual boost::asio::awaitable<base::Result<void>> async_write(base::ByteSpan data) = 0;

  /// Half-close: no more writes; the peer reads end-of-stream after the data already written.
  virtual boost::asio::awaitable<base::Result<void>> async_shutdown_write() = 0;

  /// The remote end of the underlying connection. The default knows nothing (in-memory
  /// streams); network transports override it.
  [[nodiscard]] virtual PeerInfo peer_info() const;

  /// Aborts both directions now; outstanding operations complete with an error. Idempotent.
  virtual void close() noexcept = 0;
};

}  // namespace portal::stream
