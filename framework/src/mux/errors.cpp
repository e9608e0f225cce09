// SPDX-License-Identifier: Apache-2.0
#include "portal/mux/errors.hpp"

#include "detail/error_category.hpp"

namespace portal::mux {
namespace {

const char* describe(Errc e) noexcept {
  switch (e) {
    case Errc::PeerNotReading:
      return "the peer does not read: output owed to it stayed above the budget too long";
  }
  return nullptr;
}

}  // namespace

const boost::system::error_category& mux_category() noexcept {
  static const detail::EnumCategory<Errc> category("portal.mux", describe);
  return category;
}

}  // namespace portal::mux
