// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "portal/base/export.hpp"
#include "portal/base/result.hpp"
#include "portal/plugin/descriptor.hpp"
#include "portal/plugin/errors.hpp"

namespace portal::plugin {

/// Where the host looks for plugins and what it trusts.
struct HostOptions {
  /// Directories scanned for `*.so` files, in order. Empty: the default plugin directory,
  /// `<prefix>/lib/portal/plugins` relative to the executable (platform::default_plugin_dir()).
  std::vector<std::filesystem::path> directories;
  /// Optional sha256 pins, by file name (e.g. "portal-cipher-chacha.so") to lower-case hex. A
  /// pinned file is hashed before it is loaded, so a mismatching file never runs any code. A pin
  /// whose file is in none of the directories is reported as a refusal (Errc::FileNotFound).
  std::map<std::string, std::string, std::less<>> sha256_pins;
  /// Called with each file that passed its checks, just before it is mapped. The file is
  /// mapped through the descriptor that was checked (/proc/self/fd/N), so whatever happens to
  /// the path from here on cannot change what is loaded; tests use this to replace the file.
  std::function<void(const std::filesystem::path&)> before_map;
};

/// A file the host would not load, and why.
struct Refusal {
  std::filesystem::path file;  ///< the file (or directory) concerned
  base::ErrorCode code;        ///< a plugin::Errc
  std::string detail;          ///< specifics: the loader's message, both ABI versions, ...

  /// One line: "<file>: <reason>[: <detail>]".
  [[nodiscard]] PORTAL_API std::string to_string() const;
};

class Host;

/// A loaded plugin. Shared ownership keeps the library loaded; objects obtained through factory()
/// and keep_alive() hold a reference, so the library outlives every object it created. Libraries
/// are loaded with RTLD_NODELETE as well: code a plugin registers elsewhere (an Asio service in an
/// io_context, a coroutine frame) stays mapped until the process exits. Immutable; thread-safe.
class PORTAL_API Plugin : public std::enable_shared_from_this<Plugin> {
 public:
  struct Private;
  /// Made by Host only (Private is not constructible outside it): copies what `descriptor` says,
  /// and keeps `library` (the loaded file) alive as long as this object.
  Plugin(const Private&, const Descriptor& descriptor, std::filesystem::path file,
         std::shared_ptr<void> library);
  Plugin(const Plugin&) = delete;
  Plugin& operator=(const Plugin&) = delete;
  ~Plugin();

  /// The plugin's unique dotted id from its descriptor, e.g. "portal.cipher.chacha20-poly1305".
  [[nodiscard]] const std::string& id() const noexcept { return id_; }
  /// What the plugin provides: a transport, a cipher, a mux or an extension.
  [[nodiscard]] Kind kind() const noexcept { return kind_; }
  /// The plugin's own version string, as its author set it (e.g. "0.1.0"); not checked by the host.
  [[nodiscard]] const std::string& version() const noexcept { return version_; }
  /// The names the plugin serves, at least one: URI schemes for a transport ("tcp"), algorithm
  /// names for a cipher, protocol names for a mux.
  [[nodiscard]] const std::vector<std::string>& provides() const noexcept { return provides_; }
  /// True when `name` is one of provides(), compared byte for byte.
  [[nodiscard]] bool provides(std::string_view name) const noexcept;
  /// The absolute path the library was loaded from.
  [[nodiscard]] const std::filesystem::path& file() const noexcept { return file_; }
  /// The build fingerprint the plugin was compiled with (PORTAL_PLUGIN_FINGERPRINT); equal to
  /// host_fingerprint(), or the plugin would have been refused.
  [[nodiscard]] const std::string& fingerprint() const noexcept { return fingerprint_; }
  /// The ABI minor the plugin was built against: at most the host's kAbiMinor.
  [[nodiscard]] std::uint32_t abi_minor() const noexcept { return abi_minor_; }

  /// The plugin's factory as interface F (F::kInterface names it). The returned pointer keeps
  /// the plugin loaded. Errors: Errc::InterfaceMismatch, Errc::PluginFailure (no factory).
  template <class F>
  [[nodiscard]] base::Result<std::shared_ptr<F>> factory() const {
    auto f = raw_factory(F::kInterface);
    if (!f) return f.error();
    return std::shared_ptr<F>(shared_from_this(), static_cast<F*>(*f));
  }

  /// Wraps an object created by this plugin's code so that the library stays loaded until the
  /// object is destroyed.
  template <class T>
  [[nodiscard]] std::shared_ptr<T> keep_alive(std::unique_ptr<T> object) const {
    auto self = shared_from_this();
    return std::shared_ptr<T>(object.release(), [self](T* p) { delete p; });
  }

 private:
  [[nodiscard]] base::Result<Factory*> raw_factory(std::string_view interface) const;

  std::string id_;
  Kind kind_;
  std::string version_;
  std::vector<std::string> provides_;
  std::filesystem::path file_;
  std::string fingerprint_;
  std::uint32_t abi_minor_;
  Factory* (*factory_)() noexcept;
  std::shared_ptr<void> library_;
};

/// Loads plugins from the configured directories and refuses, without crashing and with a
/// one-line reason, every file it cannot trust or use:
/// - a missing directory or file; a directory or file writable by group or others; a file owned
///   by neither this user nor root; a sha256 pin mismatch (checked before loading);
/// - a file the loader refuses (not a shared library) or without the portal_plugin_v1 entry;
/// - a different ABI major, a newer ABI minor, a build fingerprint mismatch, an unusable
///   descriptor, or an id already loaded.
/// Libraries are opened with RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE.
/// Not thread-safe while loading; const methods are safe once loading is done.
class PORTAL_API Host {
 public:
  /// A host that will scan `options.directories`; nothing is loaded until load_all() or
  /// load_file().
  explicit Host(HostOptions options = {});
  /// Takes over the loaded plugins, refusals and options; the moved-from host may only be destroyed
  /// or assigned to.
  Host(Host&&) noexcept;
  /// Releases this host's references to its plugins (each library stays loaded while objects it
  /// made live), then takes over the other's.
  Host& operator=(Host&&) noexcept;
  ~Host();

  /// Scans every directory (sorted by file name within each) and loads every acceptable plugin.
  /// Refusals are collected, never thrown.
  void load_all();

  /// Loads one file, applying every check. A refusal is also recorded in refusals().
  base::Result<std::shared_ptr<const Plugin>> load_file(const std::filesystem::path& file);

  /// Every plugin loaded so far, in load order (directory order, then file name).
  [[nodiscard]] const std::vector<std::shared_ptr<const Plugin>>& plugins() const noexcept {
    return plugins_;
  }
  /// Every file refused so far, with its reason, in the order met.
  [[nodiscard]] const std::vector<Refusal>& refusals() const noexcept { return refusals_; }
  /// The options given to the constructor.
  [[nodiscard]] const HostOptions& options() const noexcept { return options_; }

  /// The plugin with this id. Errors: Errc::UnknownPlugin.
  [[nodiscard]] base::Result<std::shared_ptr<const Plugin>> find(std::string_view id) const;
  /// The first plugin of `kind` that provides `name` (a scheme or algorithm).
  /// Errors: Errc::UnknownPlugin.
  [[nodiscard]] base::Result<std::shared_ptr<const Plugin>> find_provider(
      Kind kind, std::string_view name) const;

 private:
  base::Result<std::shared_ptr<const Plugin>> refuse(const std::filesystem::path& file,
                                                     base::ErrorCode code, std::string detail);

  HostOptions options_;
  std::vector<std::shared_ptr<const Plugin>> plugins_;
  std::vector<Refusal> refusals_;
};

}  // namespace portal::plugin
