// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <boost/system/error_category.hpp>

#include <string>

namespace portal::detail {

// boost::system::error_category has a protected non-virtual destructor by design (categories
// are never deleted through a base pointer); the warning does not apply to these singletons.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"

/// The error category of one module's `enum class Errc`. `describe` returns the message of a
/// known value, or nullptr for any other integer.
template <class E>
class EnumCategory final : public boost::system::error_category {
 public:
  using Describe = const char* (*)(E) noexcept;

  constexpr EnumCategory(const char* name, Describe describe) noexcept
      : name_(name), describe_(describe) {}

  const char* name() const noexcept override { return name_; }

  std::string message(int ev) const override {
    if (const char* text = describe_(static_cast<E>(ev))) return text;
    return std::string("unknown ") + name_ + " error " + std::to_string(ev);
  }

 private:
  const char* name_;
  Describe describe_;
};

#pragma GCC diagnostic pop

}  // namespace portal::detail
