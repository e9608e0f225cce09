// SPDX-License-Identifier: Apache-2.0
#pragma once

// The one loop that runs a sans-IO endpoint over a byte stream: send what the endpoint owes,
// stop when it is finished, read, feed, keep what it did not take, repeat. Every driver in the
// project (the relay's control and holder streams, the client's requests and incoming
// connections, the handshake) uses it, so that flushing before reading, the end of stream and
// leftover bytes are handled the same way everywhere.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>

#include <concepts>
#include <cstddef>

#include "portal/base/bytes.hpp"
#include "portal/base/result.hpp"
#include "portal/stream/byte_stream.hpp"

namespace portal::stream {

/// A sans-IO endpoint as drive() sees it. Adapters over the protocol cores provide it.
template <class E>
concept DriveEndpoint = requires(E& e, const E& ce, base::ByteSpan bytes, std::size_t n) {
  /// Bytes owed to the peer (stable until consume_output() or feed()).
  { ce.pending_output() } -> std::convertible_to<base::ByteSpan>;
  e.consume_output(n);
  /// Takes a prefix of `bytes`; 0 with nothing to send means "more bytes first".
  { e.feed(bytes) } -> std::same_as<base::Result<std::size_t>>;
  /// The peer ended its side; an error to report, or none when that was a proper end.
  { e.feed_eof() } -> std::same_as<base::ErrorCode>;
  /// Nothing more to exchange for now: drive() returns.
  { ce.finished() } -> std::convertible_to<bool>;
};

/// How drive() reads from the stream.
struct DriveOptions {
  std::size_t chunk = 16 * 1024;  ///< the read buffer
  bool reset_is_eof = false;      ///< a connection reset counts as the end of the stream
};

/// Sends everything `e` owes on `s`, writing each piece only after the last one completed.
template <DriveEndpoint E>
boost::asio::awaitable<base::Result<void>> flush(ByteStream& s, E& e) {
  for (auto out = base::ByteSpan(e.pending_output()); !out.empty();
       out = base::ByteSpan(e.pending_output())) {
    const std::size_t n = out.size();
    if (auto w = co_await s.async_write(out); !w) co_return w.error();
    e.consume_output(n);
  }
  co_return base::Result<void>{};
}

/// Runs `e` over `s`, starting with `pending` (bytes already read), until e.finished(); returns
/// the bytes read but not taken. Errors: the stream's, feed()'s and feed_eof()'s; an end of
/// stream that leaves `e` unfinished without an error of its own is asio::error::eof.
template <DriveEndpoint E>
boost::asio::awaitable<base::Result<base::Bytes>> drive(ByteStream& s, E& e,
                                                        base::Bytes pending = {},
                                                        DriveOptions options = {}) {
  base::Bytes buffer;
  for (;;) {
    // Whatever was read is fed before anything more is read, and every answer is sent before
    // the next piece is fed: nothing is answered faster than it is flushed.
    while (!pending.empty() && !e.finished()) {
      auto used = e.feed(pending);
      if (!used) co_return used.error();
      base::erase_front(pending, *used);
      const bool owes = !base::ByteSpan(e.pending_output()).empty();
      if (auto w = co_await flush(s, e); !w) co_return w.error();
      if (*used == 0 && !owes) break;  // it needs more bytes
    }
    if (auto w = co_await flush(s, e); !w) co_return w.error();
    if (e.finished()) co_return pending;
    if (buffer.empty()) buffer.resize(options.chunk);
    auto n = co_await s.async_read_some(buffer);
    const bool reset =
        !n && options.reset_is_eof &&
        (n.error() == boost::asio::error::connection_reset || n.error() == boost::asio::error::eof);
    if (!n && !reset) co_return n.error();
    if (reset || *n == 0) {
      const auto error = e.feed_eof();
      if (auto w = co_await flush(s, e); !w) co_return w.error();
      if (error) co_return error;
      if (e.finished()) co_return pending;
      co_return base::ErrorCode(boost::asio::error::eof);
    }
    pending.insert(pending.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*n));
  }
}

}  // namespace portal::stream
