// SPDX-License-Identifier: Apache-2.0
#include "portal/platform/key_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "portal/base/secret.hpp"
#include "portal/identity/errors.hpp"
#include "portal/identity/pkcs8.hpp"

namespace portal::platform {
namespace {

using base::ByteSpan;
using identity::Credential;
using identity::Errc;

// Writes all of `data` to `fd`, retrying on EINTR and short writes.
bool write_all(int fd, ByteSpan data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

// The system's reason for the step that just failed (errno), or KeyFileWriteFailed without one.
base::ErrorCode write_failure(int err) {
  if (err == 0) return identity::make_error_code(Errc::KeyFileWriteFailed);
  return {err, boost::system::generic_category()};
}

}  // namespace

base::Result<Credential> load_key_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    return errno == ENOENT || errno == ENOTDIR ? Errc::KeyFileNotFound : Errc::KeyFileUnreadable;
  }
  FdCloser closer(fd);
  // Check the opened file, not the path, so a swap between check and read changes nothing.
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Errc::KeyFileUnreadable;
  if (!S_ISREG(st.st_mode)) return Errc::KeyFileNotRegular;
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) return Errc::KeyFileTooOpen;
  if (st.st_size < 0 || static_cast<std::uint64_t>(st.st_size) > kMaxKeyFileSize) {
    return Errc::KeyFileTooLarge;
  }
  // Read at most one byte past the limit, in case the file grew after fstat.
  base::SecretBytes buffer(kMaxKeyFileSize + 1);
  std::size_t used = 0;
  while (used < buffer.size()) {
    const ssize_t n = ::read(fd, buffer.mutable_span().data() + used, buffer.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errc::KeyFileUnreadable;
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  if (used > kMaxKeyFileSize) return Errc::KeyFileTooLarge;
  return identity::from_pkcs8_pem(base::as_chars(buffer.span().first(used)));
}

base::Result<void> save_key_file(const std::filesystem::path& path, const Credential& credential,
                                 Overwrite overwrite) {
  std::error_code ec;
  if (overwrite == Overwrite::No &&
      std::filesystem::symlink_status(path, ec).type() != std::filesystem::file_type::not_found) {
    return Errc::KeyFileExists;
  }
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
  std::string tmp = (dir / ("." + path.filename().string() + ".tmp-XXXXXX")).string();
  // mkstemp creates the file with mode 0600 and O_EXCL; fchmod makes that explicit.
  const int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return write_failure(errno);
  FdCloser closer(fd);
  std::string pem = identity::to_pkcs8_pem(credential);
  const bool written = ::fchmod(fd, S_IRUSR | S_IWUSR) == 0 && write_all(fd, base::as_bytes(pem)) &&
                       ::fsync(fd) == 0;
  int err = written ? 0 : errno;
  base::secure_zero(pem.data(), pem.size());
  const bool closed = ::close(closer.release()) == 0;
  if (written && !closed) err = errno;
  if (!written || !closed) {
    ::unlink(tmp.c_str());
    return write_failure(err);
  }
  if (overwrite == Overwrite::No) {
    // link() fails with EEXIST if the name appeared meanwhile: never replace a key silently.
    const int rc = ::link(tmp.c_str(), path.c_str());
    err = errno;
    ::unlink(tmp.c_str());
    if (rc != 0) return err == EEXIST ? base::ErrorCode(Errc::KeyFileExists) : write_failure(err);
  } else if (::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    ::unlink(tmp.c_str());
    return write_failure(err);
  }
  // Make the new directory entry durable too.
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

}  // namespace portal::platform
