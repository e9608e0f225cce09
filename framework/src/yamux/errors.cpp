// SPDX-License-Identifier: Apache-2.0
#include "portal/yamux/errors.hpp"

#include <string>

namespace portal::yamux {
namespace {

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class Category final : public boost::system::error_category {
 public:
  // A fixed id: codes from this category compare equal across the plugin boundary even though
  // the host and the plugin each hold an instance.
  constexpr Category() noexcept : error_category(0x706f7274616c796dULL) {}
  const char* name() const noexcept override { return "portal.yamux"; }
  std::string message(int ev) const override;
};
#pragma GCC diagnostic pop

std::string Category::message(int ev) const {
  switch (static_cast<Errc>(ev)) {
    case Errc::BadVersion: return "yamux frame with an unknown version";
    case Errc::UnknownFrameType: return "yamux frame with an unknown type";
    case Errc::WindowExceeded: return "yamux data beyond the receive window";
    case Errc::WrongStreamParity: return "yamux stream opened with the wrong id parity";
    case Errc::DuplicateStream: return "yamux SYN for a live stream id";
    case Errc::UnexpectedFlags: return "yamux unexpected FIN or data after FIN";
    case Errc::WindowOverflow: return "yamux window update overflows the window";
    case Errc::RemoteGoAway: return "yamux peer went away with an error";
    case Errc::SessionClosed: return "yamux session closed";
    case Errc::KeepaliveTimeout: return "yamux keepalive timeout";
    case Errc::StreamOpenTimeout: return "yamux stream open not acknowledged in time";
    case Errc::StreamClosed: return "yamux stream closed for writing";
    case Errc::StreamReset: return "yamux stream reset";
    case Errc::UnknownStream: return "unknown yamux stream";
    case Errc::TooManyStreams: return "too many yamux streams";
    case Errc::StreamIdsExhausted: return "yamux stream ids exhausted";
    case Errc::GoingAway: return "yamux session is going away";
    case Errc::OpenBacklogFull: return "too many yamux opens awaiting acknowledgement";
    case Errc::NothingToAccept: return "no yamux stream to accept";
    case Errc::InvalidConfig: return "invalid yamux configuration";
    case Errc::PeerNotReading:
      return "the peer does not read: control frames owed to it stayed above the budget";
  }
  return "unknown portal.yamux error " + std::to_string(ev);
}

}  // namespace

const boost::system::error_category& yamux_category() noexcept {
  static const Category category;
  return category;
}

}  // namespace portal::yamux
