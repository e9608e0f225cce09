// SPDX-License-Identifier: Apache-2.0
#include "portal/client/errors.hpp"

#include "detail/error_category.hpp"

namespace portal::client {
namespace {

const char* describe(Errc e) noexcept {
  switch (e) {
    case Errc::NoRelay: return "no relay is connected";
    case Errc::NotFound: return "no connected relay has a lease with that name or ID";
    case Errc::HolderRefused: return "the lease holder refused the connection";
    case Errc::LeaseGone: return "the lease or its holder is gone from the relay";
    case Errc::LeaseRefused: return "the relay refused the lease";
    case Errc::AlreadyListening: return "this client already has an open listener";
    case Errc::InvalidName: return "invalid lease name (letters, digits, '_' and '-' only)";
    case Errc::InvalidTarget: return "empty target or ALPN";
    case Errc::Timeout: return "no answer from the relay in time";
    case Errc::Closed: return "the client is closed";
    case Errc::Ambiguous: return "the name matches leases of more than one identity";
  }
  return nullptr;
}

}  // namespace

const boost::system::error_category& client_category() noexcept {
  static const detail::EnumCategory<Errc> category("portal.client", describe);
  return category;
}

}  // namespace portal::client
