// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// The plugin SDK: include this in the one .cpp file of a plugin that declares it.
///
/// ```
///   namespace {
///   portal::plugin::Factory* make_factory() noexcept { static MyFactory f; return &f; }
///   }
///   PORTAL_PLUGIN(portal::plugin::Kind::Cipher, "example.cipher.rot13", "1.0.0", make_factory,
///                 "rot13")
/// ```
///
/// The macro writes the descriptor (ABI version, kind, id, version, provided names, build
/// fingerprint) and exports it under the unmangled name `portal_plugin_v1` with BOOST_DLL_ALIAS.
/// Build the plugin as a CMake MODULE with hidden visibility and BOOST_DLL_USE_STD_FS defined
/// (the portal::plugin_sdk target does both).

#include <boost/dll/alias.hpp>

#include "portal/plugin/descriptor.hpp"
#include "portal/plugin/guard.hpp"

/// Declares this shared library a Portal plugin. KIND is a portal::plugin::Kind, ID and VERSION
/// string literals, FACTORY_FN a `portal::plugin::Factory* ()noexcept` function, and the rest one
/// or more string literals: the names or URI schemes it provides.
#define PORTAL_PLUGIN(KIND, ID, VERSION, FACTORY_FN, ...)               \
  namespace {                                                           \
  const char* const portal_plugin_provides_[] = {__VA_ARGS__, nullptr}; \
  const ::portal::plugin::Descriptor portal_plugin_descriptor_ = {      \
      ::portal::plugin::kAbiMajor,                                      \
      ::portal::plugin::kAbiMinor,                                      \
      static_cast<std::uint32_t>(sizeof(::portal::plugin::Descriptor)), \
      KIND,                                                             \
      ID,                                                               \
      VERSION,                                                          \
      portal_plugin_provides_,                                          \
      PORTAL_PLUGIN_FINGERPRINT,                                        \
      &FACTORY_FN};                                                     \
  const ::portal::plugin::Descriptor* portal_plugin_entry_() noexcept { \
    return &portal_plugin_descriptor_;                                  \
  }                                                                     \
  }                                                                     \
  BOOST_DLL_ALIAS(portal_plugin_entry_, portal_plugin_v1)
