// SPDX-License-Identifier: Apache-2.0
#include "portal/plugin/descriptor.hpp"

#include "detail/error_category.hpp"
#include "portal/plugin/errors.hpp"

namespace portal::plugin {
namespace {

const char* describe(Errc e) noexcept {
  switch (e) {
    case Errc::DirectoryNotFound: return "plugin directory does not exist";
    case Errc::DirectoryWritable: return "plugin directory is writable by group or others";
    case Errc::FileNotFound: return "plugin file does not exist";
    case Errc::NotRegularFile: return "not a regular file";
    case Errc::FileWritable: return "plugin file is writable by group or others";
    case Errc::WrongOwner: return "plugin file is owned by neither this user nor root";
    case Errc::PinMismatch: return "sha256 does not match the configured pin";
    case Errc::NotLoadable: return "not a loadable shared library";
    case Errc::NoEntry: return "not a Portal plugin (no portal_plugin_v1 entry)";
    case Errc::NoDescriptor: return "plugin entry returned no descriptor";
    case Errc::AbiMajorMismatch: return "plugin ABI major differs from the host's";
    case Errc::AbiMinorTooNew: return "plugin needs a newer ABI minor than the host has";
    case Errc::FingerprintMismatch: return "plugin build fingerprint differs from the host's";
    case Errc::InvalidDescriptor: return "plugin descriptor is invalid";
    case Errc::DuplicateId: return "a plugin with the same id is already loaded";
    case Errc::UnknownPlugin: return "no such plugin";
    case Errc::InterfaceMismatch: return "plugin implements a different interface";
    case Errc::PluginFailure: return "plugin code failed";
    case Errc::PluginOutOfMemory: return "plugin code ran out of memory";
  }
  return nullptr;
}

}  // namespace

const boost::system::error_category& plugin_category() noexcept {
  static const detail::EnumCategory<Errc> category("portal.plugin", describe);
  return category;
}

std::string_view to_string(Kind kind) noexcept {
  switch (kind) {
    case Kind::Transport: return "transport";
    case Kind::Cipher: return "cipher";
    case Kind::Mux: return "mux";
    case Kind::Directory: return "directory";
    case Kind::Extension: return "extension";
  }
  return "unknown";
}

Factory::~Factory() = default;

std::string_view host_fingerprint() noexcept { return PORTAL_PLUGIN_FINGERPRINT; }

}  // namespace portal::plugin
