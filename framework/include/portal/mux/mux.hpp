// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "portal/base/export.hpp"
#include "portal/base/result.hpp"
#include "portal/base/settings.hpp"
#include "portal/mux/errors.hpp"
#include "portal/plugin/descriptor.hpp"
#include "portal/stream/byte_stream.hpp"

namespace portal::mux {

/// Which side of the multiplexer: Portal endpoints are clients, the relay is the server.
enum class Role { Client, Server };

/// Plugin settings from the config file, as text. Each mux plugin documents its keys.
using Settings = base::Settings;  ///< read with plugin::SettingsReader

/// A multiplexed session over one transport stream. Runs on the transport's executor, which
/// must be single-threaded (an io_context run by one thread, or a strand); call every member
/// from it. There is no thread per session or per stream.
class PORTAL_API Session {
 public:
  Session() = default;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  virtual ~Session();

  /// The executor the session runs on (the transport stream's): call every member, and resume every
  /// coroutine that awaits one, on it.
  [[nodiscard]] virtual boost::asio::any_io_executor get_executor() = 0;

  /// Opens a stream. It is usable at once (data may flow before the peer acknowledges).
  virtual boost::asio::awaitable<base::Result<std::unique_ptr<stream::ByteStream>>>
  async_open() = 0;
  /// Waits for the next stream the peer opens.
  virtual boost::asio::awaitable<base::Result<std::unique_ptr<stream::ByteStream>>>
  async_accept() = 0;
  /// Pings the peer and returns the round-trip time.
  virtual boost::asio::awaitable<base::Result<std::chrono::nanoseconds>> async_ping() = 0;
  /// Graceful shutdown: tells the peer no new streams will be accepted, waits until every stream
  /// has finished or `timeout` passes, then closes.
  virtual boost::asio::awaitable<base::Result<void>> async_drain(
      std::chrono::milliseconds timeout) = 0;
  /// Completes when the session has ended, with the reason.
  virtual boost::asio::awaitable<base::ErrorCode> async_wait_closed() = 0;
  /// Ends the session now: every stream fails, the transport is closed. Idempotent.
  virtual void close() noexcept = 0;

  /// False once the session has ended (close(), a transport or protocol error, a keepalive
  /// timeout); async_open() and async_accept() then fail.
  [[nodiscard]] virtual bool is_open() const noexcept = 0;
  /// Streams of either side that have not finished yet (open, or closed by one side only);
  /// async_drain() waits for this to reach 0.
  [[nodiscard]] virtual std::size_t stream_count() const noexcept = 0;
};

/// The factory a mux plugin exports (interface "portal.mux.session/1").
class PORTAL_API MuxFactory : public plugin::Factory {
 public:
  /// The name Plugin::factory() checks a mux plugin's factory against (interface_name()); the
  /// number after the slash is the interface's version.
  static constexpr std::string_view kInterface = "portal.mux.session/1";
  [[nodiscard]] std::string_view interface_name() const noexcept final { return kInterface; }

  /// Checks settings. On error, `problem` names the key and what is wrong with it.
  [[nodiscard]] virtual base::Result<void> validate(const Settings& settings,
                                                    std::string& problem) noexcept = 0;
  /// Starts a session over `transport` (taken over).
  [[nodiscard]] virtual base::Result<std::shared_ptr<Session>> create(
      std::unique_ptr<stream::ByteStream> transport, Role role,
      const Settings& settings) noexcept = 0;
};

}  // namespace portal::mux
