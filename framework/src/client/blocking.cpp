// SPDX-License-Identifier: Apache-2.0
#include "portal/client/blocking.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>

#include <thread>

namespace portal::client {

namespace asio = boost::asio;

// One I/O thread. Everything asynchronous lives on it; the blocking classes hand work over and
// wait for the result.
struct Runtime {
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::thread thread;

  Runtime() : thread([this] { io.run(); }) {}
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;
  ~Runtime() {
    work.reset();
    io.stop();
    if (thread.get_id() == std::this_thread::get_id()) {
      thread.detach();  // the last reference went away on the I/O thread itself
    } else {
      thread.join();
    }
  }

  // Runs the coroutine `f()` on the I/O thread and waits for its result.
  template <class F>
  auto run(F f) {
    return asio::co_spawn(io, std::move(f), asio::use_future).get();
  }

  // Runs `f` on the I/O thread and waits.
  template <class F>
  void call(F f) {
    asio::co_spawn(
        io,
        [f = std::move(f)]() mutable -> asio::awaitable<void> {
          f();
          co_return;
        },
        asio::use_future)
        .get();
  }
};

// ---- BlockingStream

BlockingStream::BlockingStream(std::shared_ptr<Runtime> runtime,
                               std::unique_ptr<stream::SecureStream> stream)
    : runtime_(std::move(runtime)), stream_(std::move(stream)) {}

BlockingStream::~BlockingStream() {
  runtime_->call([&] { stream_.reset(); });
}

base::Result<std::size_t> BlockingStream::read_some(base::MutableByteSpan buffer) {
  return runtime_->run([&]() -> asio::awaitable<base::Result<std::size_t>> {
    co_return co_await stream_->async_read_some(buffer);
  });
}

base::Result<void> BlockingStream::write(base::ByteSpan data) {
  return runtime_->run([&]() -> asio::awaitable<base::Result<void>> {
    co_return co_await stream_->async_write(data);
  });
}

base::Result<void> BlockingStream::shutdown_write() {
  return runtime_->run([&]() -> asio::awaitable<base::Result<void>> {
    co_return co_await stream_->async_shutdown_write();
  });
}

void BlockingStream::close() {
  runtime_->call([&] { stream_->close(); });
}

const identity::Identity& BlockingStream::peer() const noexcept { return stream_->peer(); }
const std::string& BlockingStream::alpn() const noexcept { return stream_->alpn(); }

// ---- BlockingListener

BlockingListener::BlockingListener(std::shared_ptr<Runtime> runtime,
                                   std::shared_ptr<Listener> listener)
    : runtime_(std::move(runtime)), listener_(std::move(listener)) {}

BlockingListener::~BlockingListener() {
  close();
  runtime_->call([&] { listener_.reset(); });
}

base::Result<std::unique_ptr<BlockingStream>> BlockingListener::accept() {
  auto s =
      runtime_->run([&]() -> asio::awaitable<base::Result<std::unique_ptr<stream::SecureStream>>> {
        co_return co_await listener_->accept();
      });
  if (!s) return s.error();
  return std::make_unique<BlockingStream>(runtime_, std::move(*s));
}

void BlockingListener::close() {
  runtime_->run([&]() -> asio::awaitable<void> { co_await listener_->close(); });
}

// ---- BlockingClient

base::Result<std::unique_ptr<BlockingClient>> BlockingClient::connect(
    identity::Credential credential, std::shared_ptr<Stack> stack, Options options,
    std::string* detail) {
  auto runtime = std::make_shared<Runtime>();
  auto c = runtime->run([&]() -> asio::awaitable<base::Result<std::shared_ptr<Client>>> {
    co_return co_await Client::connect(runtime->io.get_executor(), std::move(credential),
                                       std::move(stack), std::move(options), detail);
  });
  if (!c) return c.error();
  return std::make_unique<BlockingClient>(runtime, std::move(*c));
}

BlockingClient::BlockingClient(std::shared_ptr<Runtime> runtime, std::shared_ptr<Client> client)
    : runtime_(std::move(runtime)), client_(std::move(client)) {}

BlockingClient::~BlockingClient() {
  close();
  runtime_->call([&] { client_.reset(); });
}

base::Result<std::unique_ptr<BlockingListener>> BlockingClient::listen(
    std::string name, std::vector<std::string> alpns, std::string metadata, std::string* detail) {
  auto l = runtime_->run([&]() -> asio::awaitable<base::Result<std::shared_ptr<Listener>>> {
    co_return co_await client_->listen(std::move(name), std::move(alpns), std::move(metadata),
                                       detail);
  });
  if (!l) return l.error();
  return std::make_unique<BlockingListener>(runtime_, std::move(*l));
}

base::Result<std::unique_ptr<BlockingStream>> BlockingClient::dial(std::string target,
                                                                   std::string alpn,
                                                                   std::string* detail) {
  auto s =
      runtime_->run([&]() -> asio::awaitable<base::Result<std::unique_ptr<stream::SecureStream>>> {
        co_return co_await client_->dial(std::move(target), std::move(alpn), detail);
      });
  if (!s) return s.error();
  return std::make_unique<BlockingStream>(runtime_, std::move(*s));
}

base::Result<Found> BlockingClient::lookup(std::string name) {
  return runtime_->run([&]() -> asio::awaitable<base::Result<Found>> {
    co_return co_await client_->lookup(std::move(name));
  });
}

std::vector<RelayInfoResult> BlockingClient::relay_info() {
  return runtime_->run([&]() -> asio::awaitable<std::vector<RelayInfoResult>> {
    co_return co_await client_->relay_info();
  });
}

std::vector<RelayStatus> BlockingClient::relays() {
  std::vector<RelayStatus> out;
  runtime_->call([&] { out = client_->relays(); });
  return out;
}

void BlockingClient::on_relay_event(std::function<void(const RelayEvent&)> callback) {
  runtime_->call([&] { client_->on_relay_event(std::move(callback)); });
}

void BlockingClient::close() {
  runtime_->run([&]() -> asio::awaitable<void> { co_await client_->close(); });
}

}  // namespace portal::client
