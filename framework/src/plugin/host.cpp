// SPDX-License-Identifier: Apache-2.0
#include "portal/plugin/host.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/dll/shared_library.hpp>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>

#include "portal/base/encoding.hpp"
#include "portal/crypto/sha256.hpp"
#include "portal/platform/paths.hpp"

namespace portal::plugin {
namespace fs = std::filesystem;

struct Plugin::Private {};

namespace {

constexpr std::size_t kMaxIdLength = 128;

// A plugin id: dotted lower-case words, e.g. "portal.cipher.chacha20-poly1305".
bool valid_id(const char* id) {
  if (id == nullptr) return false;
  const std::string_view s(id, ::strnlen(id, kMaxIdLength + 1));
  if (s.empty() || s.size() > kMaxIdLength || s.front() == '.' || s.back() == '.') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
  });
}

bool valid_kind(Kind k) {
  return k == Kind::Transport || k == Kind::Cipher || k == Kind::Mux || k == Kind::Directory ||
         k == Kind::Extension;
}

// "compiler=gcc-12.2;stdlib=..." -> the first field whose value differs, described for a human.
std::string describe_fingerprint_difference(std::string_view plugin, std::string_view host) {
  auto fields = [](std::string_view s) {
    std::vector<std::string_view> out;
    while (!s.empty()) {
      const auto semi = s.find(';');
      out.push_back(s.substr(0, semi));
      if (semi == std::string_view::npos) break;
      s.remove_prefix(semi + 1);
    }
    return out;
  };
  const auto p = fields(plugin);
  const auto h = fields(host);
  for (std::size_t i = 0; i < std::max(p.size(), h.size()); ++i) {
    const std::string_view pf = i < p.size() ? p[i] : "(none)";
    const std::string_view hf = i < h.size() ? h[i] : "(none)";
    if (pf != hf) {
      return "plugin has " + std::string(pf) + ", host has " + std::string(hf);
    }
  }
  return "plugin '" + std::string(plugin) + "', host '" + std::string(host) + "'";
}

// Hashes a file through an already-open descriptor.
bool sha256_of(int fd, crypto::Sha256Digest& out) {
  crypto::Sha256 h;
  base::Byte buf[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) break;
    h.update(base::ByteSpan(buf, static_cast<std::size_t>(n)));
  }
  out = h.finish();
  return true;
}

// Boost.DLL's message is "<dlerror text>: <errno text>"; only the dlerror part means anything.
std::string loader_message(std::string_view what) {
  const auto cut = what.rfind(": ");
  return std::string(cut == std::string_view::npos ? what : what.substr(0, cut));
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return s;
}

// The path the loader maps a checked file by: /proc/self/fd/N of a descriptor of that file's
// inode. The loader reuses an object already loaded under the same path name, and plugins are
// never unloaded (RTLD_NODELETE), so the descriptor behind a name stays open for the life of
// the process: one per distinct plugin file, the first descriptor opened on it; later loads of
// the same inode use that name and close their own. Takes ownership of `fd`.
struct Kept {
  std::mutex mutex;
  std::map<std::pair<dev_t, ino_t>, int> fds;
};
Kept& kept_fds() {
  static Kept k;
  return k;
}

std::optional<fs::path> mapping_path(int fd, const struct stat& checked) {
  auto& k = kept_fds();
  std::lock_guard lock(k.mutex);
  auto& kept = k.fds;
  const auto key = std::make_pair(checked.st_dev, checked.st_ino);
  if (auto it = kept.find(key); it != kept.end()) {
    ::close(fd);
    fd = it->second;
  }
  fs::path path = "/proc/self/fd/" + std::to_string(fd);
  struct stat again {};
  if (::stat(path.c_str(), &again) != 0 || again.st_ino != checked.st_ino ||
      again.st_dev != checked.st_dev) {
    if (kept.count(key) == 0) ::close(fd);
    return std::nullopt;
  }
  kept.emplace(key, fd);
  return path;
}

// The loader refused the file, so nothing maps it: its descriptor need not stay open.
void forget_mapping_path(const struct stat& checked) {
  auto& k = kept_fds();
  std::lock_guard lock(k.mutex);
  if (auto it = k.fds.find(std::make_pair(checked.st_dev, checked.st_ino)); it != k.fds.end()) {
    ::close(it->second);
    k.fds.erase(it);
  }
}

}  // namespace

std::string Refusal::to_string() const {
  std::string line = file.string() + ": " + code.message();
  if (!detail.empty()) line += ": " + detail;
  return line;
}

Plugin::Plugin(const Private&, const Descriptor& d, fs::path file, std::shared_ptr<void> library)
    : id_(d.id),
      kind_(d.kind),
      version_(d.version),
      file_(std::move(file)),
      fingerprint_(d.fingerprint),
      abi_minor_(d.abi_minor),
      factory_(d.factory),
      library_(std::move(library)) {
  for (const char* const* p = d.provides; *p != nullptr; ++p) provides_.emplace_back(*p);
}

Plugin::~Plugin() = default;

bool Plugin::provides(std::string_view name) const noexcept {
  return std::find(provides_.begin(), provides_.end(), name) != provides_.end();
}

base::Result<Factory*> Plugin::raw_factory(std::string_view interface) const {
  Factory* f = factory_();
  if (f == nullptr) return Errc::PluginFailure;
  if (f->interface_name() != interface) return Errc::InterfaceMismatch;
  return f;
}

Host::Host(HostOptions options) : options_(std::move(options)) {}
Host::Host(Host&&) noexcept = default;
Host& Host::operator=(Host&&) noexcept = default;
Host::~Host() = default;

base::Result<std::shared_ptr<const Plugin>> Host::refuse(const fs::path& file, base::ErrorCode code,
                                                         std::string detail) {
  refusals_.push_back(Refusal{file, code, std::move(detail)});
  return code;
}

void Host::load_all() {
  std::vector<fs::path> dirs = options_.directories;
  if (dirs.empty()) {
    auto def = platform::default_plugin_dir();
    if (!def) {
      refusals_.push_back(Refusal{"(default plugin directory)", Errc::DirectoryNotFound,
                                  "cannot locate the executable: " + def.error().message()});
      return;
    }
    dirs.push_back(*def);
  }
  std::vector<std::string> seen_names;
  for (const auto& dir : dirs) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      refuse(dir, Errc::DirectoryNotFound, {});
      continue;
    }
    // Plugins are trusted code: a directory others can write to lets them add one. The sticky
    // bit does not help: it stops others from replacing our files, not from adding theirs.
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
      refuse(dir, Errc::DirectoryWritable, {});
      continue;
    }
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.path().extension() == ".so") files.push_back(entry.path());
    }
    if (ec) {
      refuse(dir, Errc::DirectoryNotFound, ec.message());
      continue;
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      seen_names.push_back(f.filename().string());
      (void)load_file(f);
    }
  }
  for (const auto& [name, pin] : options_.sha256_pins) {
    if (std::find(seen_names.begin(), seen_names.end(), name) == seen_names.end()) {
      refuse(name, Errc::FileNotFound, "pinned in config but found in no plugin directory");
    }
  }
}

base::Result<std::shared_ptr<const Plugin>> Host::load_file(const fs::path& file) {
  // Checks on the file itself come first: nothing is mapped until they pass.
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return refuse(file, errno == ENOENT ? Errc::FileNotFound : Errc::NotLoadable,
                  errno == ENOENT ? "" : std::strerror(errno));
  }
  struct stat st {};
  const bool stat_ok = ::fstat(fd, &st) == 0;
  if (!stat_ok || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return refuse(file, Errc::NotRegularFile, {});
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return refuse(file, Errc::FileWritable, std::string("mode ") + mode);
  }
  if (st.st_uid != ::geteuid() && st.st_uid != 0) {
    ::close(fd);
    return refuse(file, Errc::WrongOwner, "owner uid " + std::to_string(st.st_uid));
  }
  const std::string name = file.filename().string();
  if (const auto pin = options_.sha256_pins.find(name); pin != options_.sha256_pins.end()) {
    crypto::Sha256Digest digest{};
    if (!sha256_of(fd, digest)) {
      ::close(fd);
      return refuse(file, Errc::NotLoadable, "read failed while hashing");
    }
    const std::string actual = base::hex_encode(digest);
    if (actual != lower(pin->second)) {
      ::close(fd);
      return refuse(file, Errc::PinMismatch, "sha256 is " + actual + ", pin is " + pin->second);
    }
  }
  if (options_.before_map) options_.before_map(file);

  // The file that was checked (and hashed) is the file that is mapped: the loader opens the
  // descriptor's own inode through /proc, so a path replaced since the checks changes nothing.
  const auto by_fd = mapping_path(fd, st);
  if (!by_fd) {
    return refuse(file, Errc::NotLoadable,
                  "cannot reopen the checked file through /proc/self/fd (is /proc mounted?)");
  }
  // RTLD_NODELETE: code the plugin registers outside its own objects (Asio services created in a
  // host io_context, coroutine frames) must stay mapped after the last reference goes.
  const auto mode = boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local |
                    static_cast<boost::dll::load_mode::type>(RTLD_NODELETE);
  auto library = std::make_shared<boost::dll::shared_library>();
  try {
    library->load(*by_fd, mode);
  } catch (const std::exception& e) {
    forget_mapping_path(st);
    return refuse(file, Errc::NotLoadable, loader_message(e.what()));
  }
  if (!library->has(kEntryName)) return refuse(file, Errc::NoEntry, {});

  using Entry = const Descriptor*();
  const Descriptor* d = nullptr;
  try {
    d = library->get_alias<Entry>(kEntryName)();
  } catch (const std::exception& e) {
    return refuse(file, Errc::NoEntry, e.what());
  }
  if (d == nullptr) return refuse(file, Errc::NoDescriptor, {});

  // The first three fields are stable across every ABI; read nothing else before checking them.
  if (d->abi_major != kAbiMajor) {
    return refuse(file, Errc::AbiMajorMismatch,
                  "plugin " + std::to_string(d->abi_major) + "." + std::to_string(d->abi_minor) +
                      ", host " + std::to_string(kAbiMajor) + "." + std::to_string(kAbiMinor));
  }
  if (d->abi_minor > kAbiMinor) {
    return refuse(file, Errc::AbiMinorTooNew,
                  "plugin " + std::to_string(d->abi_major) + "." + std::to_string(d->abi_minor) +
                      ", host " + std::to_string(kAbiMajor) + "." + std::to_string(kAbiMinor));
  }
  if (d->size < sizeof(Descriptor)) {
    return refuse(file, Errc::InvalidDescriptor,
                  "descriptor is " + std::to_string(d->size) + " bytes, expected at least " +
                      std::to_string(sizeof(Descriptor)));
  }
  if (d->fingerprint == nullptr || std::string_view(d->fingerprint) != host_fingerprint()) {
    return refuse(
        file, Errc::FingerprintMismatch,
        describe_fingerprint_difference(d->fingerprint ? d->fingerprint : "", host_fingerprint()));
  }
  if (!valid_id(d->id)) return refuse(file, Errc::InvalidDescriptor, "bad id");
  if (!valid_kind(d->kind)) {
    return refuse(file, Errc::InvalidDescriptor,
                  "unknown kind " + std::to_string(static_cast<std::uint32_t>(d->kind)));
  }
  if (d->version == nullptr || *d->version == '\0') {
    return refuse(file, Errc::InvalidDescriptor, "no version");
  }
  if (d->provides == nullptr || d->provides[0] == nullptr) {
    return refuse(file, Errc::InvalidDescriptor, "provides nothing");
  }
  if (d->factory == nullptr) return refuse(file, Errc::InvalidDescriptor, "no factory");
  for (const auto& p : plugins_) {
    if (p->id() == d->id) {
      return refuse(file, Errc::DuplicateId,
                    std::string(d->id) + " is already loaded from " + p->file().string());
    }
  }

  auto plugin = std::make_shared<const Plugin>(Plugin::Private{}, *d, fs::absolute(file),
                                               std::static_pointer_cast<void>(library));
  plugins_.push_back(plugin);
  return plugin;
}

base::Result<std::shared_ptr<const Plugin>> Host::find(std::string_view id) const {
  for (const auto& p : plugins_) {
    if (p->id() == id) return p;
  }
  return Errc::UnknownPlugin;
}

base::Result<std::shared_ptr<const Plugin>> Host::find_provider(Kind kind,
                                                                std::string_view name) const {
  for (const auto& p : plugins_) {
    if (p->kind() == kind && p->provides(name)) return p;
  }
  return Errc::UnknownPlugin;
}

}  // namespace portal::plugin
