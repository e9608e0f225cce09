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
  BlockingStream(std::shared_ptr<Runtime> runtime, std::unique_ptr<stream::SecureStream> stream);
  BlockingStream(const BlockingStream&) = delete;
  BlockingStream& operator=(const BlockingStream&) = delete;
  ~BlockingStream();

  /// At least one byte, or 0 at the end of the stream.
  base::Result<std::size_t> read_some(base::MutableByteSpan buffer);
  base::Result<void> write(base::ByteSpan data);
  /// Half-close: the peer reads the end of the stream.
  base::Result<void> shutdown_write();
  void close();

  [[nodiscard]] const identity::Identity& peer() const noexcept;
  [[nodiscard]] const std::string& alpn() const noexcept;

 private:
  std::shared_ptr<Runtime> runtime_;
  std::unique_ptr<stream::SecureStream> stream_;
};

class PORTAL_API BlockingListener {
 public:
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

class PORTAL_API BlockingClient {
 public:
  /// Starts the I/O thread and connects (Client::connect).
  static base::Result<std::unique_ptr<BlockingClient>> connect(identity::Credential credential,
                                                               std::shared_ptr<Stack> stack,
                                                               Options options,
                                                               std::string* detail = nullptr);
  BlockingClient(std::shared_ptr<Runtime> runtime, std::shared_ptr<Client> client);
  BlockingClient(const BlockingClient&) = delete;
  BlockingClient& operator=(const BlockingClient&) = delete;
  ~BlockingClient();  ///< close(), then the I/O thread ends once no stream is left

  base::Result<std::unique_ptr<BlockingListener>> listen(std::string name,
                                                         std::vector<std::string> alpns,
                                                         std::string metadata = {},
                                                         std::string* detail = nullptr);
  base::Result<std::unique_ptr<BlockingStream>> dial(std::string target, std::string alpn,
                                                     std::string* detail = nullptr);
  base::Result<Found> lookup(std::string name);
  std::vector<RelayInfoResult> relay_info();
  std::vector<RelayStatus> relays();
  /// Called on the I/O thread: keep it short and never call back into this client from it.
  void on_relay_event(std::function<void(const RelayEvent&)> callback);
  void close();

 private:
  std::shared_ptr<Runtime> runtime_;
  std::shared_ptr<Client> client_;
};

}  // namespace portal::client
