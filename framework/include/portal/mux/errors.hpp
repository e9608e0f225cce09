// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// The mux errors every plugin shares, apart from mux.hpp (which is Asio) so that the relay's
/// sans-IO core can name them.

#include <type_traits>

#include "portal/base/export.hpp"
#include "portal/base/result.hpp"

namespace portal::mux {

/// Session-end reasons every mux plugin reports the same way (async_wait_closed()), so that the
/// relay can count them whatever the plugin. Other reasons stay in the plugin's own category.
enum class Errc {
  PeerNotReading = 1,  ///< the peer kept the session owing it output past its budget and time
};

/// The category of mux::Errc ("portal.mux").
PORTAL_API const boost::system::error_category& mux_category() noexcept;

/// `e` as an error code of this module's category. Found by argument-dependent lookup, it
/// lets an Errc convert to base::ErrorCode and compare with one.
inline base::ErrorCode make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), mux_category()};
}

}  // namespace portal::mux

template <>
struct boost::system::is_error_code_enum<portal::mux::Errc> : std::true_type {};
