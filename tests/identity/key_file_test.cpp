// SPDX-License-Identifier: Apache-2.0
#include "portal/platform/key_file.hpp"

#include "portal/identity/pkcs8.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <cerrno>
#include <cstring>

#include <fstream>

#include "portal/base/encoding.hpp"
#include "support/pem.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/vectors.hpp"

namespace portal::identity {
namespace {

namespace fs = std::filesystem;
using base::Bytes;
using base::hex_encode;
using platform::kMaxKeyFileSize;
using platform::load_key_file;
using platform::Overwrite;
using platform::save_key_file;

constexpr const char* kOpenssl = "/usr/bin/openssl";

void write_file(const fs::path& p, const std::string& text, mode_t mode) {
  {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
  }
  ASSERT_EQ(::chmod(p.c_str(), mode), 0);
}

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0);
  return st.st_mode & 07777;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The raw public key openssl derives from a PEM private key (last 32 bytes of the SPKI DER).
std::string openssl_public_key_hex(const fs::path& pem) {
  const auto der = pem.string() + ".pub.der";
  const auto r = test::run_process(
      {kOpenssl, "pkey", "-in", pem.string(), "-pubout", "-outform", "DER", "-out", der});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const std::string bytes = read_file(der);
  if (bytes.size() < 32) return {};
  return hex_encode(base::as_bytes(bytes).last(32));
}

TEST(IdentityKeyFile, PemRoundTrip) {
  auto cred = Credential::from_seed(Bytes(32, 0x11));
  ASSERT_TRUE(cred);
  const std::string pem = to_pkcs8_pem(*cred);
  EXPECT_EQ(pem.rfind("-----BEGIN PRIVATE KEY-----\n", 0), 0u);
  auto back = from_pkcs8_pem(pem);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->id(), cred->id());
}

// The PEM we write is byte-for-byte the RFC 8410 form an independent construction gives.
TEST(IdentityKeyFile, PemMatchesRfc8410FormForEveryVectorSeed) {
  const auto doc = test::load_vectors("identity.json");
  for (const auto& v : doc.at("vectors").as_array()) {
    SCOPED_TRACE(test::str(v, "label"));
    const Bytes seed = test::hex(v, "seed_hex");
    auto cred = Credential::from_seed(seed);
    ASSERT_TRUE(cred);
    EXPECT_EQ(to_pkcs8_pem(*cred), test::pem_from_seed(seed));
    auto loaded = from_pkcs8_pem(test::pem_from_seed(seed));
    ASSERT_TRUE(loaded);
    EXPECT_EQ(loaded->id(), test::str(v, "id"));
  }
}

TEST(IdentityKeyFile, AcceptsRfc5958V2WithMatchingPublicKeyAndAttributes) {
  const Bytes seed(32, 0x21);
  auto cred = Credential::from_seed(seed);
  ASSERT_TRUE(cred);
  // SEQUENCE { INTEGER 1, AlgId, OCTET STRING{OCTET STRING seed}, [0] {}, [1] 00||pub }
  auto build = [&](const Bytes& pub) {
    Bytes body = *base::hex_decode("020101300506032b657004220420");
    body.insert(body.end(), seed.begin(), seed.end());
    body.insert(body.end(), {0xa0, 0x00, 0x81, 0x21, 0x00});
    body.insert(body.end(), pub.begin(), pub.end());
    Bytes der{0x30, static_cast<base::Byte>(body.size())};
    der.insert(der.end(), body.begin(), body.end());
    return "-----BEGIN PRIVATE KEY-----\n" + base::base64_encode(der, 64) +
           "-----END PRIVATE KEY-----\n";
  };
  const Bytes pub(cred->public_key().begin(), cred->public_key().end());
  auto ok = from_pkcs8_pem(build(pub));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->id(), cred->id());
  Bytes wrong = pub;
  wrong[0] ^= 1;
  EXPECT_EQ(from_pkcs8_pem(build(wrong)).error(), Errc::KeyFileNotEd25519);
}

TEST(IdentityKeyFile, RejectsMalformedPem) {
  EXPECT_EQ(from_pkcs8_pem("").error(), Errc::KeyFileNotPem);
  EXPECT_EQ(from_pkcs8_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n").error(), Errc::KeyFileNotPem);
  EXPECT_EQ(
      from_pkcs8_pem("-----BEGIN PRIVATE KEY-----\n@@@@\n-----END PRIVATE KEY-----\n").error(),
      Errc::KeyFileNotPem);
  EXPECT_EQ(from_pkcs8_pem("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n"
                           "-----END ENCRYPTED PRIVATE KEY-----\n")
                .error(),
            Errc::KeyFileNotPem);
  // Valid base64, not a PKCS#8 structure.
  EXPECT_EQ(
      from_pkcs8_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").error(),
      Errc::KeyFileNotEd25519);
}

// Every truncation and every single-byte corruption of the DER is refused or still yields the
// right key: the parser never reads out of bounds (the asan preset checks that).
TEST(IdentityKeyFile, TruncatedOrCorruptedDerNeverCrashes) {
  const Bytes seed(32, 0x33);
  Bytes der = *base::hex_decode("302e020100300506032b657004220420");
  der.insert(der.end(), seed.begin(), seed.end());
  auto pem_of = [](const Bytes& d) {
    return "-----BEGIN PRIVATE KEY-----\n" + base::base64_encode(d, 64) +
           "-----END PRIVATE KEY-----\n";
  };
  for (std::size_t n = 0; n < der.size(); ++n) {
    EXPECT_FALSE(from_pkcs8_pem(pem_of(Bytes(der.begin(), der.begin() + static_cast<long>(n)))))
        << n;
  }
  // Flip every bit of the structural prefix. The only change that stays valid is version 0 -> 1
  // (an RFC 5958 v2 key without its optional public key), and it must give the same key.
  const auto expected = Credential::from_seed(seed)->id();
  int accepted = 0;
  for (std::size_t i = 0; i < 16; ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes bad = der;
      bad[i] = static_cast<base::Byte>(bad[i] ^ (1 << bit));
      if (auto r = from_pkcs8_pem(pem_of(bad))) {
        ++accepted;
        EXPECT_EQ(i, 4u);  // the version byte
        EXPECT_EQ(r->id(), expected);
      }
    }
  }
  EXPECT_EQ(accepted, 1);
}

TEST(IdentityKeyFile, SaveCreates0600AndOpensslReadsIt) {
  test::TempDir dir;
  const auto path = dir / "key.pem";
  const mode_t old = ::umask(0);  // even a permissive umask must not widen the mode
  auto cred = Credential::from_seed(Bytes(32, 0x44));
  ASSERT_TRUE(cred);
  const auto saved = save_key_file(path, *cred);
  ::umask(old);
  ASSERT_TRUE(saved) << saved.error().message();
  EXPECT_EQ(mode_of(path), 0600u);
  EXPECT_EQ(openssl_public_key_hex(path), hex_encode(cred->public_key()));
  auto loaded = load_key_file(path);
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->id(), cred->id());
  // No temporary file is left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 2);
}

TEST(IdentityKeyFile, LoadsAnOpensslGeneratedKey) {
  test::TempDir dir;
  const auto path = dir / "openssl.pem";
  const auto r =
      test::run_process({kOpenssl, "genpkey", "-algorithm", "ed25519", "-out", path.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  auto cred = load_key_file(path);
  ASSERT_TRUE(cred) << cred.error().message();
  EXPECT_EQ(hex_encode(cred->public_key()), openssl_public_key_hex(path));
}

TEST(IdentityKeyFile, RefusesAnOpensslX25519Key) {
  test::TempDir dir;
  const auto path = dir / "x.pem";
  const auto r =
      test::run_process({kOpenssl, "genpkey", "-algorithm", "x25519", "-out", path.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  EXPECT_EQ(load_key_file(path).error(), Errc::KeyFileNotEd25519);
}

TEST(IdentityKeyFile, RefusesFilesOthersCanAccess) {
  test::TempDir dir;
  const auto path = dir / "key.pem";
  write_file(path, test::pem_from_seed(Bytes(32, 0x55)), 0600);
  ASSERT_TRUE(load_key_file(path));
  for (mode_t mode : {0644u, 0640u, 0604u, 0660u, 0606u, 0610u, 0601u, 0620u, 0602u}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    auto r = load_key_file(path);
    ASSERT_FALSE(r) << std::oct << mode;
    EXPECT_EQ(r.error(), Errc::KeyFileTooOpen) << std::oct << mode;
  }
  ASSERT_EQ(::chmod(path.c_str(), 0400), 0);
  EXPECT_TRUE(load_key_file(path));
}

TEST(IdentityKeyFile, LoadErrorsAreDistinct) {
  test::TempDir dir;
  EXPECT_EQ(load_key_file(dir / "absent.pem").error(), Errc::KeyFileNotFound);
  EXPECT_EQ(load_key_file(dir.path()).error(), Errc::KeyFileNotRegular);
  const auto big = dir / "big.pem";
  write_file(big, std::string(kMaxKeyFileSize + 1, 'A'), 0600);
  EXPECT_EQ(load_key_file(big).error(), Errc::KeyFileTooLarge);
  const auto text = dir / "text.pem";
  write_file(text, "hello\n", 0600);
  EXPECT_EQ(load_key_file(text).error(), Errc::KeyFileNotPem);
}

TEST(IdentityKeyFile, SaveRefusesToOverwriteUnlessAsked) {
  test::TempDir dir;
  const auto path = dir / "key.pem";
  auto first = Credential::from_seed(Bytes(32, 0x66));
  auto second = Credential::from_seed(Bytes(32, 0x77));
  ASSERT_TRUE(first && second);
  ASSERT_TRUE(save_key_file(path, *first));
  EXPECT_EQ(save_key_file(path, *second).error(), Errc::KeyFileExists);
  EXPECT_EQ(load_key_file(path)->id(), first->id());
  ASSERT_TRUE(save_key_file(path, *second, Overwrite::Yes));
  EXPECT_EQ(load_key_file(path)->id(), second->id());
  EXPECT_EQ(mode_of(path), 0600u);
}

TEST(IdentityKeyFile, SaveIntoMissingDirectoryFails) {
  test::TempDir dir;
  auto cred = Credential::from_seed(Bytes(32, 0x01));
  ASSERT_TRUE(cred);
  // The system's reason, not only "could not be written".
  const auto e = save_key_file(dir / "no" / "such" / "key.pem", *cred).error();
  EXPECT_EQ(e, boost::system::errc::no_such_file_or_directory) << e.message();
  EXPECT_EQ(e.message(), std::strerror(ENOENT));
}

}  // namespace
}  // namespace portal::identity
