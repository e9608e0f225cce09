// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "portal/base/clock.hpp"
#include "portal/base/random.hpp"
#include "portal/base/result.hpp"
#include "portal/cipher/aead_factory.hpp"
#include "portal/handshake/handshake.hpp"
#include "portal/identity/credential.hpp"
#include "portal/secure_channel/secure_channel.hpp"
#include "portal/stream/byte_stream.hpp"

namespace portal::stream {

/// One cipher of the negotiated channel's list: the algorithm and the factory that makes it.
struct CipherOffer {
  std::string algorithm;                         ///< e.g. "aes-256-gcm"
  std::shared_ptr<cipher::AeadFactory> factory;  ///< a cipher plugin's factory that provides it
};

/// Everything a secure stream needs besides the byte stream under it. References must outlive
/// the handshake call; `cipher` is kept by the resulting stream.
struct SecureStreamConfig {
  const identity::Credential* credential = nullptr;  ///< this side's identity
  /// The v1 channel's cipher, e.g. the cipher-chacha plugin's; may be null only when
  /// channel_mode is Negotiated and `ciphers` is not empty.
  std::shared_ptr<cipher::AeadFactory> cipher;
  std::string algorithm = "chacha20-poly1305";  ///< the v1 channel's AEAD: ChaCha20-Poly1305
  /// Which channel to speak (docs/adr/0014-negotiated-channel.md): Auto offers (or, accepting,
  /// takes) the negotiated channel and falls back to v1 with a v1 peer; V1 is byte-exact v1;
  /// Negotiated refuses v1 peers.
  handshake::ChannelMode channel_mode = handshake::ChannelMode::Auto;
  /// The negotiated channel's ciphers, most preferred first (a dialer's offer, a lease holder's
  /// accepted set). Empty: `algorithm` with `cipher` alone.
  std::vector<CipherOffer> ciphers;
  /// Draws the ephemeral X25519 key, the handshake nonce and the first frame nonce; must outlive
  /// the handshake call. The default is the OS CSPRNG; only tests pass anything else.
  base::RandomSource* random = &base::OsRandom::instance();
  base::Clock* clock = &base::SystemClock::instance();  ///< timestamps of the handshake
  /// Handshake message size and clock-skew bounds.
  handshake::Limits limits;
  /// Frame sizes of the channel after the handshake.
  secure_channel::Options channel;
  /// Whole-handshake deadline, from the first byte sent or awaited to the keys.
  std::chrono::milliseconds handshake_timeout{10'000};
  /// Largest piece of an application write sealed before it is sent: bounds the memory a
  /// large write holds at once.
  std::size_t max_write_batch = 256 * 1024;
};

/// An end-to-end encrypted byte stream (portal-v1 §8-9) over any ByteStream. Reads return
/// plaintext; writes are sealed into frames. A frame that fails authentication fails the stream
/// (secure_channel::Errc::AuthenticationFailed) and closes the stream underneath.
class PORTAL_API SecureStream final : public ByteStream {
 public:
  /// The authenticated peer identity and the negotiated ALPN.
  [[nodiscard]] const identity::Identity& peer() const noexcept { return peer_; }
  /// The application protocol agreed in the handshake (what the dialer asked for).
  [[nodiscard]] const std::string& alpn() const noexcept { return alpn_; }
  /// The channel in use: 1 (v1) or handshake::kNegotiatedChannelVersion.
  [[nodiscard]] std::uint32_t channel_version() const noexcept {
    return channel_.negotiated() ? handshake::kNegotiatedChannelVersion : 1;
  }
  /// The AEAD algorithm of the channel, e.g. "chacha20-poly1305".
  [[nodiscard]] const std::string& cipher_algorithm() const noexcept { return algorithm_; }

  /// The executor of the stream underneath: call every operation from it.
  boost::asio::any_io_executor get_executor() override { return inner_->get_executor(); }
  boost::asio::awaitable<base::Result<std::size_t>> async_read_some(
      base::MutableByteSpan buffer) override;
  boost::asio::awaitable<base::Result<void>> async_write(base::ByteSpan data) override;
  boost::asio::awaitable<base::Result<void>> async_shutdown_write() override;
  void close() noexcept override;

  struct Private;
  /// Made by async_secure_connect() and async_secure_accept() only (Private is not constructible
  /// outside them): takes over `inner` and the established `channel`; `early_input` holds wire
  /// bytes the handshake read past its last message, fed to the channel first.
  SecureStream(const Private&, std::unique_ptr<ByteStream> inner,
               std::shared_ptr<cipher::AeadFactory> cipher, secure_channel::SecureChannel channel,
               identity::Identity peer, std::string alpn, base::Bytes early_input,
               std::string algorithm = "chacha20-poly1305", std::size_t write_batch = 256 * 1024);
  ~SecureStream() override;

 private:
  // Writes every sealed byte the channel holds.
  boost::asio::awaitable<base::Result<void>> flush();

  std::shared_ptr<cipher::AeadFactory> cipher_;  // first: the plugin outlives the AEADs
  std::unique_ptr<ByteStream> inner_;
  secure_channel::SecureChannel channel_;
  identity::Identity peer_;
  std::string alpn_;
  std::string algorithm_;
  std::size_t write_batch_;
  base::Bytes rx_;  // wire bytes read but not yet fed to the channel
  std::size_t rx_begin_ = 0;
  std::size_t rx_end_ = 0;
};

/// Runs the dialer's handshake over `inner`: the responder must be `lease_id` and accept `alpn`.
/// Errors: handshake::Errc (PeerClosedDuringHandshake is how a v1 server's refusal looks;
/// Timeout), the stream's I/O errors, cipher errors. On any error `inner` is closed.
[[nodiscard]] PORTAL_API boost::asio::awaitable<base::Result<std::unique_ptr<SecureStream>>>
async_secure_connect(std::unique_ptr<ByteStream> inner, const SecureStreamConfig& config,
                     std::string lease_id, std::string alpn);

/// Runs the lease holder's handshake over `inner`, accepting any ALPN of `alpns`. A refused
/// ClientInit gets no answer: `inner` is closed silently and the reason is logged (component
/// "handshake") and returned.
[[nodiscard]] PORTAL_API boost::asio::awaitable<base::Result<std::unique_ptr<SecureStream>>>
async_secure_accept(std::unique_ptr<ByteStream> inner, const SecureStreamConfig& config,
                    std::vector<std::string> alpns, handshake::ReplayCache& replay_cache);

}  // namespace portal::stream
