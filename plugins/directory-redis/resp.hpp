// SPDX-License-Identifier: Apache-2.0
#pragma once

// A Redis connection for the directory plugin: POCO's StreamSocket, commands encoded with
// Poco::Redis::Array, and replies (RESP2) read by a bounded reader that checks every length
// before it allocates anything for it. POCO's own Client::readReply() sizes a bulk string from
// the server's length prefix unchecked, so it is not used.

#include <Poco/Net/StreamSocket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace portal::redis {

using Clock = std::chrono::steady_clock;

/// One RESP2 reply.
struct Value {
  enum class Type { Simple, Error, Integer, Bulk, Nil, Array };
  Type type = Type::Nil;
  std::string text;  ///< Simple, Error, Bulk
  std::int64_t integer = 0;
  std::vector<Value> items;  ///< Array
};

/// What one reply may hold; a reply past any of these is a ProtocolError.
struct Limits {
  std::size_t max_bulk = 16 * 1024;  ///< bytes of one bulk string
  std::size_t max_elements = 1024;   ///< array elements in one reply, nested ones included
  std::size_t max_total = 1 << 20;   ///< bulk bytes in one reply
  std::size_t max_line = 4096;       ///< a simple string, an error or a length line
  int max_depth = 2;                 ///< nesting of arrays
};

/// The server's answer broke a limit or is not RESP2: the connection is out of step.
struct ProtocolError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
/// No answer before the deadline.
struct TimeoutError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
/// The connection failed (refused, reset, closed by the server).
struct IoError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A command, each argument a bulk string, in RESP (encoded by Poco::Redis::Array).
std::string encode(const std::vector<std::string>& args);

/// One connection to Redis. Not thread-safe: the plugin's connection thread owns it. Every
/// method throws ProtocolError, TimeoutError or IoError.
class Connection {
 public:
  Connection(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout,
             const Limits& limits);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  /// Writes `bytes` (one or more encoded commands) by `deadline`.
  void send(const std::string& bytes, Clock::time_point deadline);
  /// Reads the next reply by `deadline`.
  Value read(Clock::time_point deadline);
  /// The limits of the replies read from now on.
  void set_limits(const Limits& limits) noexcept { limits_ = limits; }
  /// Shuts the socket down, from any thread: a blocked send() or read() fails at once.
  void abort() noexcept;

 private:
  void fill(Clock::time_point deadline);
  std::string line(Clock::time_point deadline);
  Value value(Clock::time_point deadline, int depth, std::size_t& elements, std::size_t& total);

  Poco::Net::StreamSocket socket_;
  Limits limits_;
  std::string buffer_;
  std::size_t pos_ = 0;
};

}  // namespace portal::redis
