// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "portal/base/bytes.hpp"
#include "portal/base/export.hpp"
#include "portal/stream/byte_stream.hpp"

namespace portal::stream {

/// Bytes moved by splice().
struct SpliceStats {
  /// Bytes written to `b`: a_prefix, then what was read from `a`.
  std::uint64_t a_to_b = 0;
  /// Bytes written to `a`: b_prefix, then what was read from `b`.
  std::uint64_t b_to_a = 0;
  bool clean = false;  ///< both directions ended with end-of-stream, not an error
};

/// How splice() copies: buffer size, bytes to deliver first, and a progress callback.
struct SpliceOptions {
  std::size_t chunk = 32 * 1024;  ///< the largest copy buffer of each direction (it starts at
                                  ///< 2 KiB and doubles while reads fill it)
  /// Bytes already read from `a` (after a protocol exchange) that `b` gets first.
  base::Bytes a_prefix;
  /// Bytes already read from `b` that `a` gets first.
  base::Bytes b_prefix;
  /// Called after each write with the direction (true: a to b) and the byte count.
  std::function<void(bool a_to_b, std::size_t n)> on_moved;
  /// A rate limit's pace (may be null): called before each write with its direction and byte
  /// count (at most `chunk`), the write waits until the awaitable it returns completes. The
  /// direction reads nothing meanwhile, so its sender is held by the stream's flow control
  /// (backpressure; nothing is buffered beyond the one chunk). It runs on the splice's executor.
  /// `cut` becomes true when the splice ends with an error (the other direction failed and both
  /// streams are closed): a pace that waits should then return soon, and nothing more is
  /// written, so a splice held by its limit does not outlive its streams.
  std::function<boost::asio::awaitable<void>(bool a_to_b, std::size_t n,
                                             const std::atomic<bool>& cut)>
      pace;
};

/// Copies `a` to `b` and `b` to `a` until both directions have ended. The end of one direction
/// is passed on as a half-close (the other goes on); an error in either closes both. Each
/// direction holds one buffer of at most `chunk` bytes (2 KiB while the pair is idle or
/// chatty), and reads only after its last write completed, so a slow reader slows the writer on
/// the other side. Both streams share one executor.
[[nodiscard]] PORTAL_API boost::asio::awaitable<SpliceStats> splice(std::shared_ptr<ByteStream> a,
                                                                    std::shared_ptr<ByteStream> b,
                                                                    SpliceOptions options = {});

}  // namespace portal::stream
