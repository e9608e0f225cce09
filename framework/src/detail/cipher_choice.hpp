// SPDX-License-Identifier: Apache-2.0
#pragma once

// Choosing among the cipher plugins that provide one algorithm, shared by the client's stack
// (its end-to-end ciphers) and the relay's (its fleet peer sessions): each candidate must pass
// the algorithm's known answer, and the fastest one here is used (they implement the same
// algorithm, so peers cannot tell which one runs).

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "portal/base/bytes.hpp"
#include "portal/cipher/aead_factory.hpp"
#include "portal/plugin/host.hpp"

namespace portal::detail {

// How fast `factory` seals 16 KiB messages here: about a millisecond of work, at least 4
// messages. 0 when the factory cannot make the cipher.
inline double seal_rate(cipher::AeadFactory& factory, const std::string& algorithm) {
  constexpr std::size_t kMessage = 16 * 1024;
  const base::Bytes key(32, 0);
  auto aead = factory.create(algorithm, key);
  if (!aead) return 0;
  base::Bytes nonce((*aead)->nonce_size(), 0);
  base::Bytes buf(kMessage + (*aead)->tag_size(), 0x5a);
  const auto start = std::chrono::steady_clock::now();
  std::size_t messages = 0;
  auto elapsed = std::chrono::steady_clock::duration::zero();
  do {
    if (!(*aead)->seal(nonce, {}, base::ByteSpan(buf).first(kMessage), buf)) return 0;
    ++nonce[0];
    ++messages;
    elapsed = std::chrono::steady_clock::now() - start;
  } while (messages < 4 || elapsed < std::chrono::milliseconds(1));
  const double seconds = std::chrono::duration<double>(elapsed).count();
  return seconds > 0 ? static_cast<double>(messages * kMessage) / seconds : 0;
}

// RFC 8439 §2.8.2, checked on every implementation of chacha20-poly1305 before it may carry
// traffic: a plugin that claims the algorithm but gets it wrong is never chosen.
inline bool passes_known_answer(cipher::AeadFactory& factory, const std::string& algorithm) {
  if (algorithm == "aes-256-gcm") {
    // McGrew and Viega's GCM test case 14 (NIST SP 800-38D): zero key, nonce and plaintext.
    const base::Bytes zero_key(32, 0), zero_nonce(12, 0), zero_text(16, 0);
    const base::Bytes expected{0xce, 0xa7, 0x40, 0x3d, 0x4d, 0x60, 0x6b, 0x6e, 0x07, 0x4e, 0xc5,
                               0xd3, 0xba, 0xf3, 0x9d, 0x18, 0xd0, 0xd1, 0xc8, 0xa7, 0x99, 0x99,
                               0x6b, 0xf0, 0x26, 0x5b, 0x98, 0xb5, 0xd4, 0x8a, 0xb9, 0x19};
    auto aead = factory.create(algorithm, zero_key);
    if (!aead || (*aead)->tag_size() != 16) return false;
    base::Bytes sealed(expected.size());
    if (!(*aead)->seal(zero_nonce, {}, zero_text, sealed) || sealed != expected) return false;
    base::Bytes opened(zero_text.size(), 1);
    return (*aead)->open(zero_nonce, {}, sealed, opened) && opened == zero_text;
  }
  if (algorithm != "chacha20-poly1305") return true;  // no known answer here for others
  base::Bytes key(32);
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<base::Byte>(0x80 + i);
  const base::Bytes nonce{0x07, 0x00, 0x00, 0x00, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47};
  const base::Bytes aad{0x50, 0x51, 0x52, 0x53, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7};
  const std::string text =
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
      "future, sunscreen would be it.";
  const base::Bytes tag{0x1a, 0xe1, 0x0b, 0x59, 0x4f, 0x09, 0xe2, 0x6a,
                        0x7e, 0x90, 0x2e, 0xcb, 0xd0, 0x60, 0x06, 0x91};
  auto aead = factory.create(algorithm, key);
  if (!aead || (*aead)->tag_size() != tag.size()) return false;
  base::Bytes sealed(text.size() + tag.size());
  if (!(*aead)->seal(nonce, aad, base::as_bytes(text), sealed)) return false;
  if (!std::equal(tag.begin(), tag.end(), sealed.end() - static_cast<long>(tag.size()))) {
    return false;
  }
  base::Bytes opened(text.size());
  return (*aead)->open(nonce, aad, sealed, opened) && base::as_chars(opened) == text;
}

/// One usable implementation of an algorithm.
struct CipherFound {
  std::shared_ptr<cipher::AeadFactory> factory;
  std::string plugin_id;
  double bytes_per_second = 0;  ///< sealing 16 KiB messages (0: not measured: the only one)
};

// The plugins of `host` that provide `algorithm` (only `implementation`, when it is not empty)
// and pass its known answer, the fastest first. Each plugin skipped adds a line to `problems`.
inline std::vector<CipherFound> rank_ciphers(const plugin::Host& host, const std::string& algorithm,
                                             const std::string& implementation,
                                             std::vector<std::string>& problems) {
  std::vector<CipherFound> found;
  for (const auto& p : host.plugins()) {
    if (p->kind() != plugin::Kind::Cipher || !p->provides(algorithm)) continue;
    if (!implementation.empty() && p->id() != implementation) continue;
    auto f = p->factory<cipher::AeadFactory>();
    if (!f) {
      problems.push_back(p->file().string() + ": " + f.error().message());
    } else if (!passes_known_answer(**f, algorithm)) {
      problems.push_back(p->file().string() + ": " + std::string(p->id()) + " fails the " +
                         algorithm + " known answer");
    } else {
      found.push_back({*f, std::string(p->id()), 0});
    }
  }
  if (found.size() > 1) {
    // Three interleaved rounds, each implementation's best one counted: a moment of load on a
    // busy machine (another process taking the core during one round) then cannot make the
    // slower implementation win. On a loaded 2-core machine a single round picked Crypto++ over
    // OpenSSL (5x slower) about one time in four.
    for (int round = 0; round < 3; ++round) {
      for (auto& c : found) {
        c.bytes_per_second = std::max(c.bytes_per_second, seal_rate(*c.factory, algorithm));
      }
    }
    std::stable_sort(found.begin(), found.end(), [](const CipherFound& a, const CipherFound& b) {
      return a.bytes_per_second > b.bytes_per_second;
    });
  }
  return found;
}

}  // namespace portal::detail
