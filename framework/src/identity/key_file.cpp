// SPDX-License-Identifier: Apache-2.0
#include "portal/identity/key_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "portal/base/encoding.hpp"
#include "portal/base/secret.hpp"

namespace portal::identity {
namespace {

using base::Byte;
using base::ByteSpan;

constexpr std::string_view kPemBegin = "-----BEGIN PRIVATE KEY-----";
constexpr std::string_view kPemEnd = "-----END PRIVATE KEY-----";

// RFC 8410 §7: the DER of OneAsymmetricKey v1 for Ed25519 is this 16-byte prefix followed by the
// 32-byte seed: SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING
// (32) } }.
constexpr std::array<Byte, 16> kPkcs8Prefix = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
                                               0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
constexpr std::array<Byte, 3> kEd25519Oid = {0x2b, 0x65, 0x70};

// A strict DER reader for the few structures a key file holds. Every read checks bounds first.
class DerReader {
 public:
  explicit DerReader(ByteSpan in) : in_(in) {}

  [[nodiscard]] bool at_end() const { return pos_ == in_.size(); }
  [[nodiscard]] bool peek(Byte tag) const { return pos_ < in_.size() && in_[pos_] == tag; }

  // Reads one element with tag `tag` and returns its contents.
  [[nodiscard]] bool read(Byte tag, ByteSpan& contents) {
    if (in_.size() - pos_ < 2 || in_[pos_] != tag) return false;
    std::size_t p = pos_ + 1;
    std::size_t len = in_[p++];
    if (len & 0x80) {
      const std::size_t n = len & 0x7f;
      if (n == 0 || n > 2 || in_.size() - p < n) return false;
      len = 0;
      for (std::size_t i = 0; i < n; ++i) len = (len << 8) | in_[p++];
      // DER: the long form only for lengths >= 128, and with no leading zero byte.
      if (len < 0x80 || (n == 2 && len < 0x100)) return false;
    }
    if (in_.size() - p < len) return false;
    contents = in_.subspan(p, len);
    pos_ = p + len;
    return true;
  }

 private:
  ByteSpan in_;
  std::size_t pos_ = 0;
};

// Parses PKCS#8 DER (RFC 5208 / RFC 5958) holding an Ed25519 key and returns the seed.
base::Result<Credential> parse_pkcs8(ByteSpan der) {
  const auto bad = Errc::KeyFileNotEd25519;
  DerReader outer(der);
  ByteSpan body;
  if (!outer.read(0x30, body) || !outer.at_end()) return bad;

  DerReader r(body);
  ByteSpan version;
  if (!r.read(0x02, version) || version.size() != 1 || version[0] > 1) return bad;

  ByteSpan algorithm;
  if (!r.read(0x30, algorithm)) return bad;
  DerReader alg(algorithm);
  ByteSpan oid;
  // RFC 8410 §3: the parameters must be absent.
  if (!alg.read(0x06, oid) || !alg.at_end() || !base::constant_time_equal(oid, kEd25519Oid)) {
    return bad;
  }

  ByteSpan private_key;
  if (!r.read(0x04, private_key)) return bad;
  DerReader inner(private_key);
  ByteSpan seed;
  if (!inner.read(0x04, seed) || !inner.at_end() || seed.size() != 32) return bad;

  ByteSpan ignored;
  if (r.peek(0xa0) && !r.read(0xa0, ignored)) return bad;  // [0] attributes: not used

  auto credential = Credential::from_seed(seed);
  if (!credential) return bad;

  // RFC 5958 v2 may carry the public key ([1] IMPLICIT BIT STRING); it must match the seed.
  if (r.peek(0x81)) {
    ByteSpan pub;
    if (version[0] != 1 || !r.read(0x81, pub) || pub.size() != 33 || pub[0] != 0 ||
        !base::constant_time_equal(pub.subspan(1), credential->public_key())) {
      return bad;
    }
  }
  if (!r.at_end()) return bad;
  return credential;
}

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

}  // namespace

std::string to_pkcs8_pem(const Credential& credential) {
  base::SecretArray<kPkcs8Prefix.size() + 32> der;
  std::memcpy(der.data(), kPkcs8Prefix.data(), kPkcs8Prefix.size());
  std::memcpy(der.data() + kPkcs8Prefix.size(), credential.seed().data(), 32);
  std::string pem;
  pem.reserve(128);
  pem.append(kPemBegin).append("\n");
  std::string body = base::base64_encode(der.span(), 64);
  pem.append(body);
  base::secure_zero(body.data(), body.size());
  pem.append(kPemEnd).append("\n");
  return pem;
}

base::Result<Credential> from_pkcs8_pem(std::string_view pem) {
  const auto begin = pem.find(kPemBegin);
  if (begin == std::string_view::npos) return Errc::KeyFileNotPem;
  const auto body_start = begin + kPemBegin.size();
  const auto end = pem.find(kPemEnd, body_start);
  if (end == std::string_view::npos) return Errc::KeyFileNotPem;
  auto der = base::base64_decode(pem.substr(body_start, end - body_start));
  if (!der) return Errc::KeyFileNotPem;
  auto credential = parse_pkcs8(*der);
  base::secure_zero(der->data(), der->size());
  return credential;
}

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
  return from_pkcs8_pem(base::as_chars(buffer.span().first(used)));
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
  if (fd < 0) return Errc::KeyFileWriteFailed;
  FdCloser closer(fd);
  std::string pem = to_pkcs8_pem(credential);
  const bool written = ::fchmod(fd, S_IRUSR | S_IWUSR) == 0 && write_all(fd, base::as_bytes(pem)) &&
                       ::fsync(fd) == 0;
  base::secure_zero(pem.data(), pem.size());
  const bool closed = ::close(closer.release()) == 0;
  if (!written || !closed) {
    ::unlink(tmp.c_str());
    return Errc::KeyFileWriteFailed;
  }
  if (overwrite == Overwrite::No) {
    // link() fails with EEXIST if the name appeared meanwhile: never replace a key silently.
    const int rc = ::link(tmp.c_str(), path.c_str());
    const int err = errno;
    ::unlink(tmp.c_str());
    if (rc != 0) return err == EEXIST ? Errc::KeyFileExists : Errc::KeyFileWriteFailed;
  } else if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Errc::KeyFileWriteFailed;
  }
  // Make the new directory entry durable too.
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

}  // namespace portal::identity
