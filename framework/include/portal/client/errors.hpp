// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <type_traits>

#include "portal/base/export.hpp"
#include "portal/base/result.hpp"

namespace portal::client {

/// Why a client call failed, beyond the transport's, mux's, handshake's and control core's
/// own errors (which are passed through unchanged).
enum class Errc {
  NoRelay = 1,       ///< no relay is connected
  NotFound,          ///< no connected relay lists a lease with that name or ID
  HolderRefused,     ///< the lease holder answered REJECTED
  LeaseGone,         ///< the relay answered INVALID_IDENTITY: the lease or its holder is gone
  LeaseRefused,      ///< a relay refused the lease (name taken, invalid name, ...)
  AlreadyListening,  ///< this client already has an open listener
  InvalidName,       ///< the lease name breaks the v1 rule (portal-v1 §6.2)
  InvalidTarget,     ///< an empty dial target or ALPN
  Timeout,           ///< a control request got no answer in time
  Closed,            ///< the client or listener is closed
  Ambiguous,         ///< a name matches leases of more than one identity
};

/// The category of client::Errc ("portal.client").
PORTAL_API const boost::system::error_category& client_category() noexcept;

/// `e` as an error code of this module's category. Found by argument-dependent lookup, it
/// lets an Errc convert to base::ErrorCode and compare with one.
inline base::ErrorCode make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), client_category()};
}

}  // namespace portal::client

template <>
struct boost::system::is_error_code_enum<portal::client::Errc> : std::true_type {};
