// SPDX-License-Identifier: Apache-2.0
#include "portal/client/control.hpp"

#include "portal/stream/deadline.hpp"
#include "portal/stream/drive.hpp"
#include "portal/stream/prefixed_stream.hpp"

namespace portal::client {
namespace {

namespace asio = boost::asio;

constexpr std::size_t kReadChunk = 16 * 1024;

// The client cores as drive() sees them.
struct RequestEndpoint {
  control::ClientRequest& core;
  [[nodiscard]] base::ByteSpan pending_output() const { return core.pending_output(); }
  void consume_output(std::size_t n) { core.consume_output(n); }
  base::Result<std::size_t> feed(base::ByteSpan bytes) { return core.handle_input(bytes); }
  base::ErrorCode feed_eof() {
    core.handle_eof();
    return core.error();
  }
  [[nodiscard]] bool finished() const { return core.done() || core.error(); }
};

struct IncomingEndpoint {
  control::IncomingConnection& core;
  [[nodiscard]] base::ByteSpan pending_output() const { return core.pending_output(); }
  void consume_output(std::size_t n) { core.consume_output(n); }
  base::Result<std::size_t> feed(base::ByteSpan bytes) { return core.handle_input(bytes); }
  base::ErrorCode feed_eof() {
    core.handle_eof();
    return core.error() ? core.error() : make_error_code(control::Errc::ClosedWithoutAnswer);
  }
  [[nodiscard]] bool finished() const { return core.has_request() || core.error(); }
};

// A deadline that closes `s`; its error() reports Timeout when it was the cause.
class Deadline : public stream::Deadline {
 public:
  Deadline(stream::ByteStream& s, std::chrono::milliseconds timeout)
      : stream::Deadline(s.get_executor(), timeout, [&s] { s.close(); }) {}
  [[nodiscard]] base::ErrorCode error(base::ErrorCode e) const noexcept {
    return expired() ? make_error_code(Errc::Timeout) : e;
  }
};

}  // namespace

asio::awaitable<base::Result<void>> run_request(stream::ByteStream& stream,
                                                control::ClientRequest& request,
                                                base::Bytes* leftover) {
  RequestEndpoint endpoint{request};
  auto rest = co_await stream::drive(stream, endpoint, {}, stream::DriveOptions{kReadChunk});
  if (!rest) co_return rest.error();
  if (request.error()) co_return request.error();
  if (leftover != nullptr) leftover->insert(leftover->end(), rest->begin(), rest->end());
  co_return base::Result<void>{};
}

asio::awaitable<base::Result<wire::RelayInfo>> relay_info(mux::Session& session,
                                                          std::chrono::milliseconds timeout) {
  auto s = co_await session.async_open();
  if (!s) co_return s.error();
  Deadline deadline(**s, timeout);
  auto request = control::ClientRequest::relay_info();
  auto r = co_await run_request(**s, request);
  // Done: half-close and release (the v1 SDK closes the stream after the answer).
  if (!r || !co_await (*s)->async_shutdown_write()) (*s)->close();
  if (!r) co_return deadline.error(r.error());
  co_return *request.relay_info_response();
}

asio::awaitable<base::Result<wire::LeaseLookupResponse>> lease_lookup(
    mux::Session& session, std::string target, std::chrono::milliseconds timeout) {
  auto s = co_await session.async_open();
  if (!s) co_return s.error();
  Deadline deadline(**s, timeout);
  auto request = control::ClientRequest::lease_lookup(std::move(target));
  auto r = co_await run_request(**s, request);
  if (!r || !co_await (*s)->async_shutdown_write()) (*s)->close();
  if (!r) co_return deadline.error(r.error());
  co_return *request.lease_lookup_response();
}

namespace {

asio::awaitable<base::Result<wire::ResponseCode>> signed_request(
    mux::Session& session, base::Result<control::ClientRequest> request,
    std::chrono::milliseconds timeout) {
  if (!request) co_return request.error();
  auto s = co_await session.async_open();
  if (!s) co_return s.error();
  Deadline deadline(**s, timeout);
  auto r = co_await run_request(**s, *request);
  if (!r || !co_await (*s)->async_shutdown_write()) (*s)->close();
  if (!r) co_return deadline.error(r.error());
  co_return request->code();
}

}  // namespace

asio::awaitable<base::Result<wire::ResponseCode>> update_lease(
    mux::Session& session, const identity::Credential& self, wire::Lease lease,
    base::RandomSource& random, const base::Clock& clock, std::chrono::milliseconds timeout) {
  co_return co_await signed_request(
      session,
      control::ClientRequest::lease_update(self, std::move(lease), random, clock.system_now()),
      timeout);
}

asio::awaitable<base::Result<wire::ResponseCode>> delete_lease(mux::Session& session,
                                                               const identity::Credential& self,
                                                               base::RandomSource& random,
                                                               const base::Clock& clock,
                                                               std::chrono::milliseconds timeout) {
  co_return co_await signed_request(
      session, control::ClientRequest::lease_delete(self, random, clock.system_now()), timeout);
}

asio::awaitable<base::Result<Dialed>> request_connection(
    mux::Session& session, std::string lease_id, std::optional<identity::Identity> client_identity,
    std::chrono::milliseconds timeout) {
  auto s = co_await session.async_open();
  if (!s) co_return s.error();
  auto request =
      control::ClientRequest::connection(std::move(lease_id), std::move(client_identity));
  base::Bytes leftover;
  base::Result<void> r;
  {
    Deadline deadline(**s, timeout);
    r = co_await run_request(**s, request, &leftover);
    if (!r) {
      (*s)->close();
      co_return deadline.error(r.error());
    }
  }
  Dialed out;
  out.code = request.code();
  if (out.code == wire::ResponseCode::Accepted) {
    out.stream = stream::make_prefixed_stream(std::move(*s), std::move(leftover));
  } else {
    (*s)->close();
  }
  co_return out;
}

asio::awaitable<base::Result<Incoming>> read_incoming(std::unique_ptr<stream::ByteStream> s,
                                                      std::chrono::milliseconds timeout) {
  Deadline deadline(*s, timeout);
  Incoming in;
  IncomingEndpoint endpoint{in.core};
  auto rest = co_await stream::drive(*s, endpoint, {}, stream::DriveOptions{kReadChunk});
  if (!rest || in.core.error()) {
    s->close();
    co_return deadline.error(rest ? in.core.error() : rest.error());
  }
  in.leftover = std::move(*rest);
  in.request = *in.core.request();
  in.stream = std::move(s);
  co_return in;
}

asio::awaitable<base::Result<std::unique_ptr<stream::ByteStream>>> answer_incoming(
    Incoming in, wire::ResponseCode code) {
  if (auto a = in.core.answer(code); !a) co_return a.error();
  IncomingEndpoint endpoint{in.core};
  if (auto w = co_await stream::flush(*in.stream, endpoint); !w) {
    in.stream->close();
    co_return w.error();
  }
  if (code != wire::ResponseCode::Accepted) {
    if (!co_await in.stream->async_shutdown_write()) in.stream->close();
    co_return std::unique_ptr<stream::ByteStream>{};
  }
  co_return stream::make_prefixed_stream(std::move(in.stream), std::move(in.leftover));
}

}  // namespace portal::client
