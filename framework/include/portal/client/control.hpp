// SPDX-License-Identifier: Apache-2.0
#pragma once

// The client side of the v1 control protocol over a live mux session: the Asio driver of the
// sans-IO cores in portal/control/client.hpp. One request per stream, as the original SDK does
// (portal-v1 §4.1). Every call runs on the session's executor.
//
// `timeout` (zero: none) bounds the wait for the answer: when it passes the stream is closed and
// the call fails with client::Errc::Timeout. The session is left alone.

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "portal/base/clock.hpp"
#include "portal/base/export.hpp"
#include "portal/base/random.hpp"
#include "portal/base/result.hpp"
#include "portal/client/errors.hpp"
#include "portal/control/client.hpp"
#include "portal/identity/credential.hpp"
#include "portal/mux/mux.hpp"
#include "portal/stream/byte_stream.hpp"
#include "portal/wire/control.hpp"

namespace portal::client {

/// Sends `request` on `stream` and reads its answer. Bytes that arrived after the answer are
/// appended to `leftover` when given (they belong to a relayed connection).
/// Errors: the stream's, control::Errc (ClosedWithoutAnswer, ResponseTooLarge, UnexpectedPacket),
/// wire::Errc.
[[nodiscard]] PORTAL_API boost::asio::awaitable<base::Result<void>> run_request(
    stream::ByteStream& stream, control::ClientRequest& request, base::Bytes* leftover = nullptr);

/// RelayInfoRequest on a new stream of `session`.
[[nodiscard]] PORTAL_API boost::asio::awaitable<base::Result<wire::RelayInfo>> relay_info(
    mux::Session& session, std::chrono::milliseconds timeout = {});

/// LeaseLookupRequest for `target` (a name or an ID) on a new stream of `session` (ours,
/// docs/adr/0016-lease-lookup.md). Only for a relay whose RelayInfo lists
/// wire::kFeatureLeaseLookup: a v1 relay closes the stream (control::Errc::ClosedWithoutAnswer).
[[nodiscard]] PORTAL_API boost::asio::awaitable<base::Result<wire::LeaseLookupResponse>>
lease_lookup(mux::Session& session, std::string target, std::chrono::milliseconds timeout = {});

/// Registers or renews `lease` for `self` (signed, fresh nonce, `clock`'s time) on a new stream.
/// Returns the relay's code (ACCEPTED, REJECTED, INVALID_IDENTITY, INVALID_NAME).
[[nodiscard]] PORTAL_API boost::asio::awaitable<base::Result<wire::ResponseCode>> update_lease(
    mux::Session& session, const identity::Credential& self, wire::Lease lease,
    base::RandomSource& random, const base::Clock& clock, std::chrono::milliseconds timeout = {});

/// Deletes `self`'s lease (signed) on a new stream. Returns the relay's code.
[[nodiscard]] PORTAL_API boost::asio::awaitable<base::Result<wire::ResponseCode>> delete_lease(
    mux::Session& session, const identity::Credential& self, base::RandomSource& random,
    const base::Clock& clock, std::chrono::milliseconds timeout = {});

/// The answer to a ConnectionRequest: the code, and when ACCEPTED the relayed stream (the
/// handshake client runs on it next).
struct Dialed {
  /// The relay's answer: ACCEPTED when the lease holder took the connection, REJECTED when it
  /// refused or could not be reached, INVALID_IDENTITY when no unexpired lease has that ID.
  wire::ResponseCode code = wire::ResponseCode::Unknown;
  std::unique_ptr<stream::ByteStream> stream;  ///< set only when ACCEPTED
};

/// Asks the relay for a connection to `lease_id` on a new stream (§7, dialer side).
[[nodiscard]] PORTAL_API boost::asio::awaitable<base::Result<Dialed>> request_connection(
    mux::Session& session, std::string lease_id,
    std::optional<identity::Identity> client_identity = std::nullopt,
    std::chrono::milliseconds timeout = {});

/// A connection request the relay forwarded on a stream it opened (§7, lease holder side).
struct Incoming {
  /// The request as the relay forwarded it: the lease ID dialed and the dialer's unverified
  /// identity claim.
  wire::ConnectionRequest request;
  /// The stream the relay opened; after an ACCEPTED answer it carries the end-to-end connection.
  std::unique_ptr<stream::ByteStream> stream;
  /// The sans-IO state that read the request and queues the answer (answer_incoming() uses it).
  control::IncomingConnection core;
  base::Bytes leftover;  ///< bytes after the request (a dialer that did not wait)
};

/// Reads the forwarded request from `stream` (a stream the relay opened).
/// Errors: the stream's, control::Errc, wire::Errc.
[[nodiscard]] PORTAL_API boost::asio::awaitable<base::Result<Incoming>> read_incoming(
    std::unique_ptr<stream::ByteStream> stream, std::chrono::milliseconds timeout = {});

/// Sends the answer. ACCEPTED returns the stream for the handshake server (leftover bytes put
/// back in front); any other code closes it and returns null.
[[nodiscard]] PORTAL_API boost::asio::awaitable<base::Result<std::unique_ptr<stream::ByteStream>>>
answer_incoming(Incoming incoming, wire::ResponseCode code);

}  // namespace portal::client
