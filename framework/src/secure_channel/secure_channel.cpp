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
  }
  return nullptr;
}

}  // namespace

const boost::system::error_category& secure_channel_category() noexcept {
  static const detail::EnumCategory<Errc> category("portal.secure_channel", describe);
  return category;
}

SecureChannel::SecureChannel(std::shared_ptr<cipher::Aead> encrypt,
                             std::shared_ptr<cipher::Aead> decrypt, Options options)
    : encrypt_(std::move(encrypt)),
      decrypt_(std::move(decrypt)),
      options_(options),
      output_(std::numeric_limits<std::size_t>::max()),
      reader_(options.max_frame_size, kFrameOverhead) {}

base::Result<SecureChannel> SecureChannel::create(std::shared_ptr<cipher::Aead> encrypt,
                                                  std::shared_ptr<cipher::Aead> decrypt,
                                                  base::RandomSource& random, Options options) {
  if (!encrypt || !decrypt || options.max_plaintext_per_frame == 0 ||
      options.max_plaintext_per_frame + kFrameOverhead > kV1MaxFrame ||
      options.max_frame_size > kV1MaxFrame || options.max_frame_size < kFrameOverhead) {
    return Errc::InvalidOptions;
  }
  for (const auto* aead : {encrypt.get(), decrypt.get()}) {
    // v1 peers pick their nonces at random (§9.1): only an algorithm that stays safe with random
    // 96-bit nonces runs here. AES-GCM does not (one repeat exposes its authentication key).
    if (aead->nonce_size() != kNonceSize || aead->tag_size() != kTagSize ||
        aead->algorithm() != kV1Algorithm) {
      return Errc::InvalidOptions;
    }
  }
  SecureChannel channel(std::move(encrypt), std::move(decrypt), options);
  if (auto r = random.fill(channel.nonce_); !r) return r.error();
  return channel;
}

base::ErrorCode SecureChannel::fail(base::ErrorCode e) noexcept {
  if (!error_) error_ = e;
  return error_;
}

void SecureChannel::next_nonce() noexcept {
  for (std::size_t i = kNonceSize; i-- > 0;) {
    if (++nonce_[i] != 0) break;
  }
}

base::Result<void> SecureChannel::seal_frame(base::ByteSpan plaintext) {
  const std::size_t n = kFrameOverhead + plaintext.size();
  auto space = output_.prepare(base::kLengthPrefixSize + n);
  if (!space) return fail(space.error());
  base::Byte* p = space->data();
  base::store_be32(p, static_cast<std::uint32_t>(n));
  std::memcpy(p + base::kLengthPrefixSize, nonce_.data(), kNonceSize);
  // portal-v1 §9.1: no associated data.
  auto sealed =
      encrypt_->seal(nonce_, {}, plaintext, space->subspan(base::kLengthPrefixSize + kNonceSize));
  if (!sealed) return fail(sealed.error());
  output_.commit(base::kLengthPrefixSize + n);
  next_nonce();
  return {};
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
  if (output_.empty() && output_.capacity() > 256 * 1024) output_.release_if_empty();
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
    auto body = reader_.body();
    const auto nonce = body.first(kNonceSize);
    const auto sealed = body.subspan(kNonceSize);
    const auto plain = sealed.first(sealed.size() - kTagSize);
    // Opened in place: the plaintext overwrites the ciphertext in the receive buffer.
    if (auto r = decrypt_->open(nonce, {}, sealed, plain); !r) {
      return fail(r.error() == cipher::Errc::AuthenticationFailed
                      ? make_error_code(Errc::AuthenticationFailed)
                      : r.error());
    }
    if (plain.empty()) {
      reader_.next();  // an empty frame carries nothing to read
    } else {
      plain_begin_ = kNonceSize;
      plain_end_ = kNonceSize + plain.size();
    }
  }
  return *used;
}

base::ByteSpan SecureChannel::readable() const noexcept {
  if (plain_begin_ == plain_end_) return {};
  return reader_.body().subspan(plain_begin_, plain_end_ - plain_begin_);
}

void SecureChannel::consume(std::size_t n) noexcept {
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
  peer_eof_ = true;
  return {};
}

}  // namespace portal::secure_channel
