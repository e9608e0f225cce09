// SPDX-License-Identifier: Apache-2.0
#include "relay/peer.hpp"

#include <boost/asio/error.hpp>
#include <vector>

namespace portal::relay::detail {

namespace {

// The bytes read in one go at the start of a connection (the mux reads more after them).
constexpr std::size_t kSniffChunk = 4096;

stream::SecureStreamConfig config_of(const PeerCrypto& crypto) {
  stream::SecureStreamConfig c;
  c.credential = crypto.identity;
  c.cipher = crypto.cipher;
  c.channel_mode = handshake::ChannelMode::Negotiated;  // both ends are this project's relays
  c.ciphers.push_back(stream::CipherOffer{std::string(handshake::kV1Cipher), crypto.cipher});
  c.handshake_timeout = crypto.timeout;
  return c;
}

}  // namespace

boost::asio::awaitable<base::Result<Sniffed>> sniff_peer(stream::ByteStream& s) {
  Sniffed out;
  base::Bytes buffer(kSniffChunk);
  while (out.prefix.empty() || (out.prefix.front() == static_cast<base::Byte>(kPeerMagic.front()) &&
                                out.prefix.size() < kPeerMagic.size())) {
    auto n = co_await s.async_read_some(buffer);
    if (!n) co_return n.error();
    if (*n == 0) co_return base::ErrorCode(boost::asio::error::eof);
    out.prefix.insert(out.prefix.end(), buffer.begin(),
                      buffer.begin() + static_cast<std::ptrdiff_t>(*n));
  }
  if (out.prefix.front() != static_cast<base::Byte>(kPeerMagic.front())) co_return out;
  if (!std::equal(kPeerMagic.begin(), kPeerMagic.end(), out.prefix.begin(),
                  [](char a, base::Byte b) { return static_cast<base::Byte>(a) == b; })) {
    co_return base::ErrorCode(boost::asio::error::invalid_argument);
  }
  out.peer = true;
  base::erase_front(out.prefix, kPeerMagic.size());
  co_return out;
}

boost::asio::awaitable<base::Result<std::unique_ptr<stream::SecureStream>>> peer_connect(
    std::unique_ptr<stream::ByteStream> s, const PeerCrypto& crypto, std::string relay) {
  const base::Bytes magic(kPeerMagic.begin(), kPeerMagic.end());
  if (auto w = co_await s->async_write(magic); !w) {
    s->close();
    co_return w.error();
  }
  co_return co_await stream::async_secure_connect(std::move(s), config_of(crypto), std::move(relay),
                                                  std::string(kPeerAlpn));
}

boost::asio::awaitable<base::Result<std::unique_ptr<stream::SecureStream>>> peer_accept(
    std::unique_ptr<stream::ByteStream> s, const PeerCrypto& crypto,
    handshake::ReplayCache& replay) {
  // Named: GCC 12 miscompiles a braced list inside a co_await expression.
  std::vector<std::string> alpns{std::string(kPeerAlpn)};
  const auto config = config_of(crypto);
  co_return co_await stream::async_secure_accept(std::move(s), config, std::move(alpns), replay);
}

}  // namespace portal::relay::detail
