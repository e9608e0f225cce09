// SPDX-License-Identifier: Apache-2.0
#pragma once

// The client SDK for programs without an event loop: every call blocks the calling thread until
// it completes. A BlockingClient owns one I/O thread that runs the asynchronous Client
// (client.hpp) and everything it serves; calls are handed to that thread and waited for.
//
// Call from any thread except the client's own I/O thread. A stream may be read by one thread
// while another writes to it.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "portal/base/bytes.hpp"
#include "portal/base/export.hpp"
#include "portal/base/result.hpp"
#include "portal/client/client.hpp"

namespace portal::client {

struct Runtime;

/// An end-to-end encrypted stream, blocking.
class PORTAL_API BlockingStream {
 public:
  /// Made by BlockingListener::accept() and BlockingClient::dial(): wraps `stream`, which runs on
  /// `runtime`'s I/O thread (Runtime is private to the SDK).
  BlockingStream(std::shared_ptr<Runtime> runtime, std::unique_ptr<stream::SecureStream> stream);
  BlockingStream(const BlockingStream&) = delete;
  BlockingStream& operator=(const BlockingStream&) = delete;
  ~BlockingStream();

  /// At least one byte, or 0 at the end of the stream.
  base::Result<std::size_t> read_some(base::MutableByteSpan buffer);
  /// Writes all of `data`, blocking until it is handed to the transport. One write at a time; a
  /// read may run concurrently on another thread. Errors: the stream's (e.g. after close()).
  base::Result<void> write(base::ByteSpan data);
  /// Half-close: the peer reads the end of the stream.
  base::Result<void> shutdown_write();
  /// Aborts both directions now; a read or write blocked on another thread fails. Idempotent.
  void close();

  /// The authenticated identity at the other end (the dialer, for an accepted stream; the lease
  /// holder, for a dialed one).
  [[nodiscard]] const identity::Identity& peer() const noexcept;
  /// The application protocol agreed in the handshake.
  [[nodiscard]] const std::string& alpn() const noexcept;

 private:
  std::shared_ptr<Runtime> runtime_;
  std::unique_ptr<stream::SecureStream> stream_;
};

/// Client::listen()'s Listener for threads without an event loop: every call blocks the calling
/// thread until the work is done on the client's I/O thread. Never call it from a relay-event
/// callback (that runs on the I/O thread).
class PORTAL_API BlockingListener {
 public:
  /// Made by BlockingClient::listen(): wraps `listener`, which runs on `runtime`'s I/O thread.
  BlockingListener(std::shared_ptr<Runtime> runtime, std::shared_ptr<Listener> listener);
  BlockingListener(const BlockingListener&) = delete;
  BlockingListener& operator=(const BlockingListener&) = delete;
  ~BlockingListener();  ///< closes (deleting the lease)

  /// The next incoming connection. Errors: Errc::Closed after close().
  base::Result<std::unique_ptr<BlockingStream>> accept();
  /// Deletes the lease on every relay and wakes a blocked accept(). Idempotent.
  void close();

 private:
  std::shared_ptr<Runtime> runtime_;
  std::shared_ptr<Listener> listener_;
};

/// The client SDK for programs without an event loop: Client behind blocking calls. It owns one I/O
/// thread that runs the client; each call blocks the calling thread until it completes there. Calls
/// may come from any thread but the I/O thread itself (a relay-event callback must not call back
/// in). Streams and listeners keep the I/O thread alive after the client is destroyed.
class PORTAL_API BlockingClient {
 public:
  /// Starts the I/O thread and connects (Client::connect).
  static base::Result<std::unique_ptr<BlockingClient>> connect(identity::Credential credential,
                                                               std::shared_ptr<Stack> stack,
                                                               Options options,
                                                               std::string* detail = nullptr);
  /// Made by connect(): wraps `client`, which runs on `runtime`'s I/O thread (Runtime is private to
  /// the SDK).
  BlockingClient(std::shared_ptr<Runtime> runtime, std::shared_ptr<Client> client);
  BlockingClient(const BlockingClient&) = delete;
  BlockingClient& operator=(const BlockingClient&) = delete;
  ~BlockingClient();  ///< close(), then the I/O thread ends once no stream is left

  /// Client::listen(), blocking: registers the lease and returns its listener. Same errors.
  base::Result<std::unique_ptr<BlockingListener>> listen(std::string name,
                                                         std::vector<std::string> alpns,
                                                         std::string metadata = {},
                                                         std::string* detail = nullptr);
  /// Client::dial(), blocking: returns the end-to-end encrypted stream to `target`. Same errors.
  base::Result<std::unique_ptr<BlockingStream>> dial(std::string target, std::string alpn,
                                                     std::string* detail = nullptr);
  /// Client::lookup(), blocking. Same errors.
  base::Result<Found> lookup(std::string name);
  /// Client::relay_info(), blocking: every connected relay's RelayInfo.
  std::vector<RelayInfoResult> relay_info();
  /// Client::relays(), read on the I/O thread: every relay and whether it is connected.
  std::vector<RelayStatus> relays();
  /// Called on the I/O thread: keep it short and never call back into this client from it.
  void on_relay_event(std::function<void(const RelayEvent&)> callback);
  /// Client::close(), blocking: deletes the lease and closes every relay session. Idempotent.
  void close();

 private:
  std::shared_ptr<Runtime> runtime_;
  std::shared_ptr<Client> client_;
};

}  // namespace portal::client
