// SPDX-License-Identifier: Apache-2.0
#include "portal/base/secret.hpp"

#include <cstring>

namespace portal::base {
namespace {
// Calling memset through a volatile pointer stops the compiler from proving the store dead.
void* (*const volatile g_memset)(void*, int, std::size_t) = std::memset;
}  // namespace

void secure_zero(void* p, std::size_t n) noexcept {
  if (n != 0) g_memset(p, 0, n);
}

SecretBytes::SecretBytes(std::size_t n) : data_(n ? new Byte[n]() : nullptr), size_(n) {}

SecretBytes SecretBytes::from(ByteSpan src) {
  SecretBytes s(src.size());
  if (!src.empty()) std::memcpy(s.data_, src.data(), src.size());
  return s;
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept : data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    reset();
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

SecretBytes::~SecretBytes() { reset(); }

void SecretBytes::reset() noexcept {
  if (data_ != nullptr) {
    secure_zero(data_, size_);
    delete[] data_;
  }
  data_ = nullptr;
  size_ = 0;
}

}  // namespace portal::base
