// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <type_traits>

#include "portal/base/export.hpp"
#include "portal/base/result.hpp"

namespace portal::plugin {

/// Errors of the plugin module: why the host refused a file, and failures reported by plugin code.
enum class Errc {
  DirectoryNotFound = 1,  ///< a plugin directory does not exist or is not a directory
  DirectoryWritable,      ///< a plugin directory is writable by group or others
  FileNotFound,           ///< a plugin file (or a pinned one) does not exist
  NotRegularFile,         ///< the path is not a regular file
  FileWritable,           ///< the file is writable by group or others
  WrongOwner,             ///< the file belongs to neither this user nor root
  PinMismatch,            ///< the file's sha256 differs from its configured pin
  NotLoadable,            ///< the dynamic loader refused the file (not a shared library, ...)
  NoEntry,                ///< the library exports no portal_plugin_v1 entry
  NoDescriptor,           ///< the entry returned no descriptor
  AbiMajorMismatch,       ///< the plugin was built for another ABI major
  AbiMinorTooNew,         ///< the plugin needs a newer ABI minor than this host has
  FingerprintMismatch,    ///< the plugin was built with another compiler, library or flags
  InvalidDescriptor,      ///< the descriptor's id, kind, provided names or factory are unusable
  DuplicateId,            ///< another plugin with the same id is already loaded
  UnknownPlugin,          ///< no loaded plugin has that id or provides that name
  InterfaceMismatch,      ///< the plugin's factory implements another interface
  PluginFailure,          ///< plugin code failed unexpectedly (an exception was caught)
  PluginOutOfMemory,      ///< plugin code ran out of memory
};

/// The category of plugin::Errc ("portal.plugin").
PORTAL_API const boost::system::error_category& plugin_category() noexcept;

/// `e` as an error code of this module's category. Found by argument-dependent lookup, it
/// lets an Errc convert to base::ErrorCode and compare with one.
inline base::ErrorCode make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), plugin_category()};
}

}  // namespace portal::plugin

template <>
struct boost::system::is_error_code_enum<portal::plugin::Errc> : std::true_type {};
