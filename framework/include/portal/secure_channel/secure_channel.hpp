// SPDX-License-Identifier: Apache-2.0
#pragma once

// The Portal v1 secure channel (portal-v1 §9) as a sans-IO core: frames
// LP(nonce(12) || AEAD(plaintext) || tag(16)), sealed and opened through the AEAD interface, so
// the cipher comes from a plugin.
//
// Call order:
//   sending:   write(plaintext) ... then send pending_output() and consume_output(n).
//   receiving: handle_input(bytes) consumes up to the end of one frame and opens it; read the
//              plaintext with readable()/consume() (or read()); feed the rest of the bytes once
//              readable() is empty. handle_eof() when the peer's stream ends.
// After a failure every call returns the same error; the caller closes the stream.

#include <array>
#include <cstddef>
#include <memory>
#include <string_view>

#include "portal/base/byte_buffer.hpp"
#include "portal/base/bytes.hpp"
#include "portal/base/export.hpp"
#include "portal/base/length_prefixed.hpp"
#include "portal/base/random.hpp"
#include "portal/base/result.hpp"
#include "portal/cipher/aead.hpp"

namespace portal::secure_channel {

/// Bytes of the nonce that starts every frame (portal-v1 §9.1).
inline constexpr std::size_t kNonceSize = 12;
/// Bytes of the Poly1305 tag that ends every frame.
inline constexpr std::size_t kTagSize = 16;
inline constexpr std::size_t kFrameOverhead = kNonceSize + kTagSize;  ///< N = plaintext + 28
/// The largest frame v1 peers may send and receivers must accept (portal-v1 §9.3: N <= 2^26).
inline constexpr std::size_t kV1MaxFrame = std::size_t{1} << 26;

/// Errors of the secure channel.
enum class Errc {
  FrameTooLarge = 1,     ///< a frame length above the receive limit (checked before reading it)
  FrameTooShort,         ///< a frame length below nonce + tag (28)
  AuthenticationFailed,  ///< a frame does not open: tampered, reordered key, or wrong key
  TruncatedFrame,        ///< the stream ended in the middle of a frame
  WriteAfterClose,       ///< write() after close_write()
  InvalidOptions,        ///< a frame size outside what v1 allows, or a cipher with other sizes
  OutOfSequence,         ///< (negotiated) a frame that is not the next one: replayed, reordered or
                         ///< one before it dropped
  InvalidFrameType,      ///< (negotiated) an unknown frame type, or an end frame with data
  FrameAfterEnd,         ///< (negotiated) a frame after the peer's authenticated end of stream
  Truncated,             ///< (negotiated) the stream ended without the authenticated end
  NonceExhausted,        ///< (negotiated) 2^64 frames sent under one key
};

/// The category of secure_channel::Errc ("portal.secure_channel").
PORTAL_API const boost::system::error_category& secure_channel_category() noexcept;

/// `e` as an error code of this module's category. Found by argument-dependent lookup, it
/// lets an Errc convert to base::ErrorCode and compare with one.
inline base::ErrorCode make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), secure_channel_category()};
}

/// The one AEAD of the v1 channel (portal-v1 §9): ChaCha20-Poly1305.
inline constexpr std::string_view kV1Algorithm = "chacha20-poly1305";

/// Bytes of the negotiated channel's frame type, between the nonce and the ciphertext.
inline constexpr std::size_t kFrameTypeSize = 1;
/// Negotiated frame type: application data.
inline constexpr base::Byte kFrameData = 0x00;
/// Negotiated frame type: the authenticated end of the sender's stream (no data).
inline constexpr base::Byte kFrameEnd = 0x01;

/// How a SecureChannel cuts and accepts frames; create() checks both sizes (Errc::InvalidOptions).
struct Options {
  /// Plaintext bytes per frame the sender cuts writes into. v1 cut only above 32 MiB; 16 KiB
  /// keeps per-frame latency and receive buffers small while the AEAD runs at full speed.
  std::size_t max_plaintext_per_frame = 16 * 1024;
  /// Largest frame length N accepted from the peer (at most kV1MaxFrame; v1 peers may send that).
  std::size_t max_frame_size = kV1MaxFrame;
};

/// One end of an established secure channel. Not thread-safe.
class PORTAL_API SecureChannel {
 public:
  /// `encrypt` seals what this side sends, `decrypt` opens what the peer sends (each keyed with
  /// its direction's key). The first nonce is drawn from `random` (12 bytes); later frames count
  /// up from it as a 96-bit big-endian integer, so nonces never repeat under one key (v1 draws
  /// each at random; receivers accept any nonce, portal-v1 §9.1). Both ciphers must be
  /// kV1Algorithm: v1 peers choose nonces at random, which only it tolerates.
  /// Errors: Errc::InvalidOptions, base::Errc::RandomSourceFailed.
  [[nodiscard]] static base::Result<SecureChannel> create(std::shared_ptr<cipher::Aead> encrypt,
                                                          std::shared_ptr<cipher::Aead> decrypt,
                                                          base::RandomSource& random,
                                                          Options options = {});

  /// The negotiated channel (docs/adr/0014-negotiated-channel.md) on keys from a negotiated
  /// handshake: frames LP(nonce || type || AEAD(plaintext)) whose nonce is a counter from zero
  /// (4 zero bytes, then a 64-bit big-endian sequence number) that the receiver requires in
  /// order, with the length prefix and the type as associated data, and an end frame that
  /// close_write() sends and without which the peer's end of stream is Errc::Truncated. Any AEAD
  /// with 12-byte nonces and 16-byte tags may run here (AES-256-GCM included: nonces never
  /// repeat). Errors: Errc::InvalidOptions.
  [[nodiscard]] static base::Result<SecureChannel> create_negotiated(
      std::shared_ptr<cipher::Aead> encrypt, std::shared_ptr<cipher::Aead> decrypt,
      Options options = {});

  /// Takes over the ciphers, the nonce counter and every buffered byte; the moved-from channel may
  /// only be destroyed or assigned to.
  SecureChannel(SecureChannel&&) noexcept = default;
  /// Replaces this channel's state with the other's (buffered bytes of this one are dropped); the
  /// moved-from channel may only be destroyed or assigned to.
  SecureChannel& operator=(SecureChannel&&) noexcept = default;

  // ---- sending

  /// Seals `plaintext` into frames of at most max_plaintext_per_frame bytes and queues them.
  /// An empty write produces one empty frame (N = 28), as in v1.
  /// Errors: Errc::WriteAfterClose, the AEAD's errors.
  [[nodiscard]] base::Result<void> write(base::ByteSpan plaintext);
  /// Wire bytes to send; valid until the next non-const call.
  [[nodiscard]] base::ByteSpan pending_output() const noexcept { return output_.readable(); }
  /// Drops the first `n` bytes of pending_output() once they are written (at most its size).
  void consume_output(std::size_t n) noexcept;
  /// No more writes. v1 has no close message (§9.4): the caller half-closes the stream once
  /// pending_output() is sent. The negotiated channel queues its end frame first (if sealing it
  /// fails, the channel fails: see error()). A second call does nothing.
  void close_write() noexcept;

  // ---- receiving

  /// Consumes wire bytes up to the end of the next frame and opens it; returns the count used.
  /// While readable() is not empty nothing is consumed. Errors: Errc::FrameTooLarge,
  /// Errc::FrameTooShort, Errc::AuthenticationFailed (the channel is then failed for good).
  [[nodiscard]] base::Result<std::size_t> handle_input(base::ByteSpan wire);
  /// What read_direct() did: wire bytes consumed and plaintext bytes written.
  struct Direct {
    std::size_t consumed = 0;  ///< 0: nothing done, use handle_input()
    std::size_t produced = 0;  ///< plaintext written to the output (0 for an empty frame)
  };
  /// The copy-free path: when nothing is buffered, `wire` starts with a whole frame and its
  /// plaintext fits `out`, opens the frame from `wire` straight into `out` (which must not overlap
  /// it), with every check handle_input() makes. Otherwise does nothing ({0, 0}): call
  /// handle_input(). Errors: as handle_input().
  [[nodiscard]] base::Result<Direct> read_direct(base::ByteSpan wire, base::MutableByteSpan out);
  /// Decrypted plaintext not yet consumed.
  [[nodiscard]] base::ByteSpan readable() const noexcept;
  /// Releases `n` bytes of readable().
  void consume(std::size_t n) noexcept;
  /// Copies up to out.size() bytes of readable() into `out` and consumes them.
  std::size_t read(base::MutableByteSpan out) noexcept;
  /// The peer's stream ended. Between frames this is a clean end (peer_closed() becomes true);
  /// inside a frame it is Errc::TruncatedFrame. On the negotiated channel only an end frame
  /// received before makes it clean; otherwise it is Errc::Truncated.
  [[nodiscard]] base::Result<void> handle_eof();
  /// True after a clean end of the peer's stream, once every plaintext byte has been read.
  [[nodiscard]] bool peer_closed() const noexcept { return peer_eof_ && readable().empty(); }

  /// The first error the channel failed with (a frame, authentication or AEAD error); empty while
  /// healthy. A failed channel stays failed: drop the connection.
  [[nodiscard]] base::ErrorCode error() const noexcept { return error_; }
  /// The options given to create().
  [[nodiscard]] const Options& options() const noexcept { return options_; }
  /// True for a channel made by create_negotiated().
  [[nodiscard]] bool negotiated() const noexcept { return negotiated_; }

 private:
  SecureChannel(std::shared_ptr<cipher::Aead> encrypt, std::shared_ptr<cipher::Aead> decrypt,
                Options options, bool negotiated);
  base::ErrorCode fail(base::ErrorCode e) noexcept;
  base::Result<void> seal_frame(base::ByteSpan plaintext, base::Byte type = kFrameData);
  base::Result<void> open_frame(base::MutableByteSpan body);
  base::Result<std::size_t> open_into(base::ByteSpan body, base::MutableByteSpan out);
  void next_nonce() noexcept;

  std::shared_ptr<cipher::Aead> encrypt_;
  std::shared_ptr<cipher::Aead> decrypt_;
  Options options_;
  std::array<base::Byte, kNonceSize> nonce_{};
  base::ByteBuffer output_;
  base::LengthPrefixedReader reader_;
  std::size_t plain_begin_ = 0;  ///< within the current frame's body
  std::size_t plain_end_ = 0;
  std::array<base::Byte, kNonceSize> expected_nonce_{};  ///< negotiated: the next frame's
  bool negotiated_ = false;
  bool write_closed_ = false;
  bool peer_eof_ = false;
  bool peer_ended_ = false;  ///< negotiated: the peer's end frame arrived
  base::ErrorCode error_;
};

}  // namespace portal::secure_channel

template <>
struct boost::system::is_error_code_enum<portal::secure_channel::Errc> : std::true_type {};
