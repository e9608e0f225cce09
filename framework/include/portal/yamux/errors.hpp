// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <type_traits>

#include "portal/base/export.hpp"
#include "portal/base/result.hpp"

namespace portal::yamux {

/// Why a yamux session or stream failed.
enum class Errc {
  BadVersion = 1,      ///< a frame with a version other than 0 (protocol error)
  UnknownFrameType,    ///< a frame type other than 0-3 (protocol error)
  WindowExceeded,      ///< DATA beyond the advertised receive window (protocol error)
  WrongStreamParity,   ///< the peer opened a stream with an id of our parity, or id 0
  DuplicateStream,     ///< a SYN for an id that is live (protocol error)
  UnexpectedFlags,     ///< a second FIN, or DATA after FIN (protocol error)
  WindowOverflow,      ///< a window update past 2^32 - 1 (protocol error)
  RemoteGoAway,        ///< the peer sent GO_AWAY with an error code; the session ended
  SessionClosed,       ///< the session is closed
  KeepaliveTimeout,    ///< a ping was not answered in time
  StreamOpenTimeout,   ///< an opened stream was not acknowledged in time (closes the session)
  StreamClosed,        ///< write after this side's FIN
  StreamReset,         ///< the stream was reset
  UnknownStream,       ///< no such stream
  TooManyStreams,      ///< the configured maximum number of streams is reached
  StreamIdsExhausted,  ///< no stream ids left in this session
  GoingAway,           ///< no new streams: a GO_AWAY was sent or received
  OpenBacklogFull,     ///< too many opened streams are still waiting for their ACK
  NothingToAccept,     ///< accept with an empty backlog
  InvalidConfig,       ///< a setting outside what the protocol allows
  PeerNotReading,      ///< control frames owed to the peer stayed above the budget too long
};

/// The category of yamux::Errc ("portal.yamux"): names the codes and gives their messages.
PORTAL_API const boost::system::error_category& yamux_category() noexcept;

/// `e` as an error code of this module's category. Found by argument-dependent lookup, it
/// lets an Errc convert to base::ErrorCode and compare with one.
inline base::ErrorCode make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), yamux_category()};
}

}  // namespace portal::yamux

template <>
struct boost::system::is_error_code_enum<portal::yamux::Errc> : std::true_type {};
