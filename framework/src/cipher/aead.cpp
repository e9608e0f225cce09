// SPDX-License-Identifier: Apache-2.0
#include "portal/cipher/aead.hpp"

#include <functional>

#include "detail/error_category.hpp"

namespace portal::cipher {
namespace {

const char* describe(Errc e) noexcept {
  switch (e) {
    case Errc::UnknownAlgorithm: return "unknown AEAD algorithm";
    case Errc::InvalidKeyLength: return "AEAD key has the wrong length";
    case Errc::InvalidNonceLength: return "AEAD nonce has the wrong length";
    case Errc::BufferSizeMismatch: return "AEAD output buffer has the wrong size";
    case Errc::BufferOverlap: return "AEAD input and output overlap without being in place";
    case Errc::AuthenticationFailed: return "AEAD authentication failed";
  }
  return nullptr;
}

}  // namespace

const boost::system::error_category& cipher_category() noexcept {
  static const detail::EnumCategory<Errc> category("portal.cipher", describe);
  return category;
}

Aead::~Aead() = default;

base::Result<void> check_buffers(base::ByteSpan in, base::MutableByteSpan out,
                                 std::size_t expected_out) noexcept {
  if (out.size() != expected_out) return Errc::BufferSizeMismatch;
  if (in.empty() || out.empty() || in.data() == out.data()) return {};
  // std::less gives a total order on unrelated pointers.
  const std::less<const base::Byte*> before;
  const bool disjoint =
      !before(in.data(), out.data() + out.size()) || !before(out.data(), in.data() + in.size());
  if (!disjoint) return Errc::BufferOverlap;
  return {};
}

}  // namespace portal::cipher
