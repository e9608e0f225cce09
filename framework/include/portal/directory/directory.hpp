// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// The plugin interface of a fleet's shared lease directory (plugin kind `directory`, interface
/// `portal.directory/1`; docs/adr/0015-relay-fleet.md §2). A DirectoryClient carries the relay
/// core's lease::DirectoryRequest commands to an engine (Redis in plugins/directory-redis) and
/// posts each lease::DirectoryReply back to the relay's executor. It never blocks its caller: the
/// engine's I/O runs on the client's own thread(s), behind a bounded queue.

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "portal/base/export.hpp"
#include "portal/base/result.hpp"
#include "portal/base/settings.hpp"
#include "portal/lease/directory.hpp"
#include "portal/plugin/descriptor.hpp"

namespace portal::directory {

/// Plugin settings from the config file (`directory.settings`), as text. Each directory plugin
/// documents its keys; secrets among them are named by Factory::secret_keys().
using Settings = base::Settings;

/// What a client reports for /healthz and /metrics.
struct Health {
  bool connected = false;        ///< the engine answered the last request or ping
  std::size_t queued = 0;        ///< requests waiting to be sent or answered
  std::uint64_t completed = 0;   ///< replies delivered since open(), any status
  std::uint64_t failed = 0;      ///< of which Unavailable, TimedOut, Overloaded or Invalid
  std::uint64_t reconnects = 0;  ///< connections made after the first
  std::chrono::microseconds last_latency{0};  ///< submit() to reply, of the last Ok reply
  std::string last_error;                     ///< why the engine is unreachable (when it is)
};

/// A connection to a directory engine, opened by DirectoryFactory::open(). Thread-safe: submit()
/// may be called from any thread; replies run on the executor given to open().
class PORTAL_API DirectoryClient {
 public:
  DirectoryClient() = default;
  DirectoryClient(const DirectoryClient&) = delete;
  DirectoryClient& operator=(const DirectoryClient&) = delete;
  /// Closes (as close()) if still open.
  virtual ~DirectoryClient();

  /// Called exactly once with the reply to a submitted request.
  using Done = std::function<void(lease::DirectoryReply)>;

  /// Queues `request`. Returns false, without calling `done`, when the queue is full or the
  /// client is closed: the caller treats that as lease::DirectoryStatus::Overloaded. Otherwise
  /// `done` runs once on the open() executor: with the engine's answer, with TimedOut when none
  /// came within the client's timeout, or with Unavailable when the engine cannot be reached.
  /// Every reply has passed lease::within() for the client's bounds.
  [[nodiscard]] virtual bool submit(lease::DirectoryRequest request, Done done) noexcept = 0;
  /// Stops the client: pending requests complete with Unavailable, later submit() calls return
  /// false, and the engine's thread(s) are joined. Idempotent.
  virtual void close() noexcept = 0;
  /// A snapshot of the client's state.
  [[nodiscard]] virtual Health health() const noexcept = 0;
};

/// The factory a directory plugin exports (interface "portal.directory/1").
class PORTAL_API DirectoryFactory : public plugin::Factory {
 public:
  /// The name Plugin::factory() checks a directory plugin's factory against.
  static constexpr std::string_view kInterface = "portal.directory/1";
  [[nodiscard]] std::string_view interface_name() const noexcept final { return kInterface; }

  /// Checks settings without connecting. On error, `problem` names the key and what is wrong.
  [[nodiscard]] virtual base::Result<void> validate(const Settings& settings,
                                                    std::string& problem) noexcept = 0;
  /// Setting keys whose values are secrets (redacted by --print-config and in logs), as a
  /// nullptr-terminated list.
  [[nodiscard]] virtual const char* const* secret_keys() const noexcept = 0;
  /// Opens a client; replies are posted to `executor`, and no reply exceeds `bounds`. Connecting
  /// happens in the background: an engine that is down at first is retried with backoff, and
  /// requests meanwhile complete with Unavailable.
  [[nodiscard]] virtual base::Result<std::shared_ptr<DirectoryClient>> open(
      boost::asio::any_io_executor executor, const Settings& settings,
      const lease::DirectoryBounds& bounds, std::string& problem) noexcept = 0;
};

}  // namespace portal::directory
