// SPDX-License-Identifier: Apache-2.0
#include "portal/secure_channel/secure_channel.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

#include "detail/error_category.hpp"

namespace portal::secure_channel {
namespace {

const char* describe(Errc e) noexcept {
  switch (e) {
    case Errc::FrameTooLarge: return "secure frame longer than the receive limit";
    case Errc::FrameTooShort: return "secure frame shorter than nonce and tag";
    case Errc::AuthenticationFailed: return "secure frame failed authentication";
    case Errc::TruncatedFrame: return "stream ended inside a secure frame";
    case Errc::WriteAfterClose: return "write after close";
    case Errc::InvalidOptions: return "invalid secure channel options";
    case Errc::OutOfSequence:
      return "secure frame out of sequence (replayed, reordered or a frame dropped)";
    case Errc::InvalidFrameType: return "secure frame of an unknown type";
    case Errc::FrameAfterEnd: return "secure frame after the peer's end of stream";
    case Errc::Truncated: return "stream ended without the peer's authenticated end (truncated)";
    case Errc::NonceExhausted: return "secure channel nonce space exhausted";
  }
  return nullptr;
}

// The 96-bit big-endian increment shared by both nonce counters.
void increment(std::array<base::Byte, kNonceSize>& nonce) noexcept {
  for (std::size_t i = kNonceSize; i-- > 0;) {
    if (++nonce[i] != 0) break;
  }
}

bool sizes_ok(const cipher::Aead* aead) {
  return aead->nonce_size() == kNonceSize && aead->tag_size() == kTagSize && aead->key_size() == 32;
}

bool options_ok(const Options& o, std::size_t overhead) {
  return o.max_plaintext_per_frame != 0 && o.max_plaintext_per_frame + overhead <= kV1MaxFrame &&
         o.max_frame_size <= kV1MaxFrame && o.max_frame_size >= overhead;
}

constexpr std::size_t kKeptOutput = 1024 * 1024;

constexpr std::size_t kNegotiatedOverhead = kFrameOverhead + kFrameTypeSize;

}  // namespace

const boost::system::error_category& secure_channel_category() noexcept {
  static const detail::EnumCategory<Errc> category("portal.secure_channel", describe);
  return category;
}

SecureChannel::SecureChannel(std::shared_ptr<cipher::Aead> encrypt,
                             std::shared_ptr<cipher::Aead> decrypt, Options options,
                             bool negotiated)
    : encrypt_(std::move(encrypt)),
      decrypt_(std::move(decrypt)),
      options_(options),
      output_(std::numeric_limits<std::size_t>::max()),
      reader_(options.max_frame_size, negotiated ? kNegotiatedOverhead : kFrameOverhead),
      negotiated_(negotiated) {}

base::Result<SecureChannel> SecureChannel::create(std::shared_ptr<cipher::Aead> encrypt,
                                                  std::shared_ptr<cipher::Aead> decrypt,
                                                  base::RandomSource& random, Options options) {
  if (!encrypt || !decrypt || !options_ok(options, kFrameOverhead)) return Errc::InvalidOptions;
  for (const auto* aead : {encrypt.get(), decrypt.get()}) {
    // v1 peers pick their nonces at random (§9.1): only an algorithm that stays safe with random
    // 96-bit nonces runs here. AES-GCM does not (one repeat exposes its authentication key).
    if (!sizes_ok(aead) || aead->algorithm() != kV1Algorithm) return Errc::InvalidOptions;
  }
  SecureChannel channel(std::move(encrypt), std::move(decrypt), options, false);
  if (auto r = random.fill(channel.nonce_); !r) return r.error();
  return channel;
}

base::Result<SecureChannel> SecureChannel::create_negotiated(std::shared_ptr<cipher::Aead> encrypt,
                                                             std::shared_ptr<cipher::Aead> decrypt,
                                                             Options options) {
  if (!encrypt || !decrypt || !options_ok(options, kNegotiatedOverhead) ||
      !sizes_ok(encrypt.get()) || !sizes_ok(decrypt.get()) ||
      encrypt->algorithm() != decrypt->algorithm()) {
    return Errc::InvalidOptions;
  }
  // Both counters start at zero: the keys are fresh for every connection (docs/adr/0014).
  return SecureChannel(std::move(encrypt), std::move(decrypt), options, true);
}

base::ErrorCode SecureChannel::fail(base::ErrorCode e) noexcept {
  if (!error_) error_ = e;
  return error_;
}

void SecureChannel::next_nonce() noexcept { increment(nonce_); }

base::Result<void> SecureChannel::seal_frame(base::ByteSpan plaintext, base::Byte type) {
  if (negotiated_ && (nonce_[0] | nonce_[1] | nonce_[2] | nonce_[3]) != 0) {
    return fail(Errc::NonceExhausted);  // the 64-bit sequence number wrapped
  }
  const std::size_t header = negotiated_ ? kNonceSize + kFrameTypeSize : kNonceSize;
  const std::size_t n = header + plaintext.size() + kTagSize;
  auto space = output_.prepare(base::kLengthPrefixSize + n);
  if (!space) return fail(space.error());
  base::Byte* p = space->data();
  base::store_be32(p, static_cast<std::uint32_t>(n));
  std::memcpy(p + base::kLengthPrefixSize, nonce_.data(), kNonceSize);
  // portal-v1 §9.1: no associated data. The negotiated channel authenticates the length prefix
  // and the type: AAD = N (4 bytes) || type.
  std::array<base::Byte, base::kLengthPrefixSize + kFrameTypeSize> aad{};
  base::ByteSpan ad;
  if (negotiated_) {
    p[base::kLengthPrefixSize + kNonceSize] = type;
    std::memcpy(aad.data(), p, base::kLengthPrefixSize);
    aad[base::kLengthPrefixSize] = type;
    ad = aad;
  }
  auto sealed =
      encrypt_->seal(nonce_, ad, plaintext, space->subspan(base::kLengthPrefixSize + header));
  if (!sealed) return fail(sealed.error());
  output_.commit(base::kLengthPrefixSize + n);
  next_nonce();
  return {};
}

void SecureChannel::close_write() noexcept {
  if (write_closed_) return;
  write_closed_ = true;
  if (negotiated_ && !error_) (void)seal_frame({}, kFrameEnd);
}

base::Result<void> SecureChannel::write(base::ByteSpan plaintext) {
  if (error_) return error_;
  if (write_closed_) return Errc::WriteAfterClose;
  if (plaintext.empty()) return seal_frame(plaintext);
  while (!plaintext.empty()) {
    const std::size_t n = std::min(plaintext.size(), options_.max_plaintext_per_frame);
    if (auto r = seal_frame(plaintext.first(n)); !r) return r;
    plaintext = plaintext.subspan(n);
  }
  return {};
}

void SecureChannel::consume_output(std::size_t n) noexcept {
  output_.consume(n);
  // Kept between writes up to 1 MiB: a stream's write batch (256 KiB of plaintext by default, a
  // little more sealed) reuses one buffer. Releasing it after every batch made each batch
  // fault fresh pages in (glibc maps and unmaps allocations of this size): the direct secure
  // channel ran at a fifth of its speed. Only a larger buffer, from an unusual write, goes.
  if (output_.empty() && output_.capacity() > kKeptOutput) output_.release_if_empty();
}

base::Result<std::size_t> SecureChannel::handle_input(base::ByteSpan wire) {
  if (error_) return error_;
  if (!readable().empty()) return std::size_t{0};
  auto used = reader_.feed(wire);
  if (!used) {
    return fail(used.error() == base::Errc::LengthTooLarge   ? make_error_code(Errc::FrameTooLarge)
                : used.error() == base::Errc::LengthTooSmall ? make_error_code(Errc::FrameTooShort)
                                                             : used.error());
  }
  if (reader_.complete()) {
    if (auto r = open_frame(reader_.body()); !r) return r.error();
  }
  return *used;
}

// Checks and opens one frame body (nonce || [type] || sealed) into `out`, which is either the
// body's own ciphertext (in place) or memory apart from it; returns the plaintext size.
base::Result<std::size_t> SecureChannel::open_into(base::ByteSpan body, base::MutableByteSpan out) {
  const auto nonce = body.first(kNonceSize);
  std::size_t header = kNonceSize;
  std::array<base::Byte, base::kLengthPrefixSize + kFrameTypeSize> aad{};
  base::ByteSpan ad;
  base::Byte type = kFrameData;
  if (negotiated_) {
    if (peer_ended_) return fail(Errc::FrameAfterEnd);
    // The sequence is checked before the tag: a replayed or reordered frame would also fail
    // authentication, but this names what happened.
    if (!std::equal(nonce.begin(), nonce.end(), expected_nonce_.begin())) {
      return fail(Errc::OutOfSequence);
    }
    type = body[kNonceSize];
    header += kFrameTypeSize;
    base::store_be32(aad.data(), static_cast<std::uint32_t>(body.size()));
    aad[base::kLengthPrefixSize] = type;
    ad = aad;
  }
  const auto sealed = body.subspan(header);
  const std::size_t plain = sealed.size() - kTagSize;
  if (auto r = decrypt_->open(nonce, ad, sealed, out.first(plain)); !r) {
    return fail(r.error() == cipher::Errc::AuthenticationFailed
                    ? make_error_code(Errc::AuthenticationFailed)
                    : r.error());
  }
  if (negotiated_) {
    // Only authenticated frames move the sequence and only they can end the stream.
    increment(expected_nonce_);
    if (type == kFrameEnd && plain == 0) {
      peer_ended_ = true;
      peer_eof_ = true;
    } else if (type != kFrameData) {
      return fail(Errc::InvalidFrameType);
    }
  }
  return plain;
}

base::Result<void> SecureChannel::open_frame(base::MutableByteSpan body) {
  const std::size_t header = negotiated_ ? kNonceSize + kFrameTypeSize : kNonceSize;
  // Opened in place: the plaintext overwrites the ciphertext in the receive buffer.
  auto plain = open_into(body, body.subspan(header));
  if (!plain) return plain.error();
  if (*plain == 0) {
    reader_.next();  // an empty frame carries nothing to read
  } else {
    plain_begin_ = header;
    plain_end_ = header + *plain;
  }
  return {};
}

base::Result<SecureChannel::Direct> SecureChannel::read_direct(base::ByteSpan wire,
                                                               base::MutableByteSpan out) {
  if (error_) return error_;
  if (!readable().empty() || reader_.partial() || reader_.complete() ||
      wire.size() < base::kLengthPrefixSize) {
    return Direct{};
  }
  const std::size_t n = base::load_be32(wire.data());
  const std::size_t overhead = negotiated_ ? kFrameOverhead + kFrameTypeSize : kFrameOverhead;
  // Out-of-range lengths and frames still arriving take the buffered path, which reports them.
  if (n < overhead || n > options_.max_frame_size || wire.size() - base::kLengthPrefixSize < n ||
      n - overhead > out.size()) {
    return Direct{};
  }
  auto plain = open_into(wire.subspan(base::kLengthPrefixSize, n), out);
  if (!plain) return plain.error();
  return Direct{base::kLengthPrefixSize + n, *plain};
}

base::ByteSpan SecureChannel::readable() const noexcept {
  if (plain_begin_ == plain_end_) return {};
  return reader_.body().subspan(plain_begin_, plain_end_ - plain_begin_);
}

void SecureChannel::consume(std::size_t n) noexcept {
  // With nothing readable there is nothing to release; above all, a frame still arriving in the
  // reader must not be dropped (a read() between two partial inputs used to lose it).
  if (plain_begin_ == plain_end_) return;
  plain_begin_ += std::min(n, plain_end_ - plain_begin_);
  if (plain_begin_ == plain_end_) {
    plain_begin_ = plain_end_ = 0;
    reader_.next();
  }
}

std::size_t SecureChannel::read(base::MutableByteSpan out) noexcept {
  const auto r = readable();
  const std::size_t n = std::min(out.size(), r.size());
  if (n > 0) std::memcpy(out.data(), r.data(), n);
  consume(n);
  return n;
}

base::Result<void> SecureChannel::handle_eof() {
  if (error_) return error_;
  if (reader_.partial() && plain_end_ == 0) return fail(Errc::TruncatedFrame);
  if (negotiated_ && !peer_ended_) return fail(Errc::Truncated);
  peer_eof_ = true;
  return {};
}

}  // namespace portal::secure_channel
