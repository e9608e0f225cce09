// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// The plugin ABI: what a plugin exports and what the host checks before using it.
/// See docs/plugins.md for the rules in prose.

#include <boost/version.hpp>

#include <cstdint>
#include <string_view>
#include <version>

#include "portal/base/export.hpp"

/// The plugin ABI major as a literal (it also appears in the fingerprint string).
#define PORTAL_PLUGIN_ABI_MAJOR 2

namespace portal::plugin {

/// ABI major: bumped by any change that breaks an existing plugin (a descriptor layout change, a
/// changed virtual interface). The host refuses any other major.
inline constexpr std::uint32_t kAbiMajor = PORTAL_PLUGIN_ABI_MAJOR;
/// ABI minor: bumped when the kernel adds something plugins may use. A host loads plugins built
/// for its minor or an older one, and refuses a newer one.
/// 2.2: host-less URIs (scheme:///path). 2.3: yamux::Session::take_output(), and the yamux core's
/// queues no longer allocate while idle (its layout changed: rebuild a plugin that embeds it).
/// 2.4: the directory kind (Kind::Directory, portal/directory/directory.hpp).
inline constexpr std::uint32_t kAbiMinor = 4;

/// The unmangled name of the entry every plugin exports (a BOOST_DLL_ALIAS to a function
/// `const Descriptor* ()`).
inline constexpr const char* kEntryName = "portal_plugin_v1";

/// What a plugin provides.
enum class Kind : std::uint32_t {
  Transport = 1,   ///< byte streams to and from a URI scheme (tcp, ws)
  Cipher = 2,      ///< AEAD algorithms (portal.cipher.aead/1)
  Mux = 3,         ///< stream multiplexers (yamux)
  Directory = 4,   ///< a fleet's shared lease directory (redis; ADR 0015)
  Extension = 100  ///< an interface defined outside the kernel, by an embedding application
};

/// "transport", "cipher", "mux", "directory", "extension", or "unknown".
PORTAL_API std::string_view to_string(Kind kind) noexcept;

/// The base of every object a plugin hands to the host. The host checks interface_name() before
/// converting a Factory to the interface it expects, so no RTTI is needed across the boundary.
/// Every virtual call is noexcept: plugin code never lets an exception cross (plugin/sdk.hpp
/// provides guard()).
class PORTAL_API Factory {
 public:
  Factory() = default;
  Factory(const Factory&) = delete;
  Factory& operator=(const Factory&) = delete;
  virtual ~Factory();

  /// The versioned name of the interface this factory implements, e.g. "portal.cipher.aead/1".
  [[nodiscard]] virtual std::string_view interface_name() const noexcept = 0;
};

/// What a plugin's entry returns. Only plain data, so the host can read the first three fields of
/// a plugin built against any ABI. The descriptor and everything it points to live as long as the
/// library is loaded.
struct Descriptor {
  std::uint32_t abi_major;         ///< kAbiMajor the plugin was built with (checked first)
  std::uint32_t abi_minor;         ///< kAbiMinor the plugin was built with
  std::uint32_t size;              ///< sizeof(Descriptor) the plugin was built with
  Kind kind;                       ///< what the plugin provides
  const char* id;                  ///< dotted unique id, e.g. "portal.cipher.chacha20-poly1305"
  const char* version;             ///< the plugin's own version, e.g. "0.1.0"
  const char* const* provides;     ///< nullptr-terminated names or URI schemes, at least one
  const char* fingerprint;         ///< PORTAL_PLUGIN_FINGERPRINT of the plugin's build
  Factory* (*factory)() noexcept;  ///< the plugin's factory; lives as long as the library
};

/// The fingerprint of the host's own build (libportal's PORTAL_PLUGIN_FINGERPRINT). A plugin
/// whose fingerprint differs in any field is refused.
[[nodiscard]] PORTAL_API std::string_view host_fingerprint() noexcept;

}  // namespace portal::plugin

// ---- build fingerprint -------------------------------------------------------------------------
// Every setting that changes how C++ types crossing the boundary are laid out or called. It is a
// string literal assembled by the preprocessor, so it costs nothing at run time.

#define PORTAL_FP_STR2(x) #x
#define PORTAL_FP_STR(x) PORTAL_FP_STR2(x)

#if defined(__clang__)
#define PORTAL_FP_COMPILER \
  "clang-" PORTAL_FP_STR(__clang_major__) "." PORTAL_FP_STR(__clang_minor__)
#elif defined(__GNUC__)
#define PORTAL_FP_COMPILER "gcc-" PORTAL_FP_STR(__GNUC__) "." PORTAL_FP_STR(__GNUC_MINOR__)
#else
#define PORTAL_FP_COMPILER "unknown"
#endif

#if defined(_LIBCPP_VERSION)
#define PORTAL_FP_STDLIB "libc++-" PORTAL_FP_STR(_LIBCPP_VERSION)
#elif defined(_GLIBCXX_RELEASE)
#define PORTAL_FP_STDLIB \
  "libstdc++-" PORTAL_FP_STR(_GLIBCXX_RELEASE) ";cxx11abi=" PORTAL_FP_STR(_GLIBCXX_USE_CXX11_ABI)
#else
#define PORTAL_FP_STDLIB "unknown"
#endif

#if defined(_GLIBCXX_DEBUG)
#define PORTAL_FP_STDLIB_DEBUG "1"
#else
#define PORTAL_FP_STDLIB_DEBUG "0"
#endif

#if defined(__SANITIZE_ADDRESS__)
#define PORTAL_FP_ASAN "1"
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PORTAL_FP_ASAN "1"
#endif
#endif
#ifndef PORTAL_FP_ASAN
#define PORTAL_FP_ASAN "0"
#endif

#if defined(__GXX_RTTI) || defined(__cpp_rtti)
#define PORTAL_FP_RTTI "1"
#else
#define PORTAL_FP_RTTI "0"
#endif

#if defined(__cpp_exceptions)
#define PORTAL_FP_EXCEPTIONS "1"
#else
#define PORTAL_FP_EXCEPTIONS "0"
#endif

// Asio settings that change any_io_executor, awaitable or handler layouts.
#if defined(BOOST_ASIO_USE_TS_EXECUTOR_AS_DEFAULT)
#define PORTAL_FP_ASIO_TS "1"
#else
#define PORTAL_FP_ASIO_TS "0"
#endif
#if defined(BOOST_ASIO_ENABLE_HANDLER_TRACKING)
#define PORTAL_FP_ASIO_TRACKING "1"
#else
#define PORTAL_FP_ASIO_TRACKING "0"
#endif

/// The build fingerprint of the translation unit that expands it: fields "name=value" joined by
/// ';'. The host compares it with its own, field by field, and names the first difference. The
/// fields: compiler and version, standard library and version, its debug mode, `__cplusplus`,
/// Boost version, AddressSanitizer, RTTI, exceptions, Asio's TS executor default, Asio handler
/// tracking, and the ABI major.
#define PORTAL_PLUGIN_FINGERPRINT                                                                \
  "compiler=" PORTAL_FP_COMPILER ";stdlib=" PORTAL_FP_STDLIB                                     \
  ";stdlib-debug=" PORTAL_FP_STDLIB_DEBUG                                                        \
  ";cxx=" PORTAL_FP_STR(__cplusplus) ";boost=" BOOST_LIB_VERSION ";asan=" PORTAL_FP_ASAN         \
                                     ";rtti=" PORTAL_FP_RTTI ";exceptions=" PORTAL_FP_EXCEPTIONS \
                                     ";asio-ts-executor=" PORTAL_FP_ASIO_TS                      \
                                     ";asio-handler-tracking=" PORTAL_FP_ASIO_TRACKING           \
                                     ";abi=" PORTAL_FP_STR(PORTAL_PLUGIN_ABI_MAJOR)
