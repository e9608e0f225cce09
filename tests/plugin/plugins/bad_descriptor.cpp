// SPDX-License-Identifier: Apache-2.0
// Deliberately bad plugins: one source, built once per PORTAL_BAD_CASE value. Each writes its
// descriptor by hand (not with PORTAL_PLUGIN) so that exactly one field is wrong.
#include <boost/dll/alias.hpp>

#include "plugin/echo_service.hpp"
#include "portal/plugin/descriptor.hpp"

namespace {

using portal::plugin::Descriptor;
using portal::plugin::Kind;

portal::plugin::Factory* make_factory() noexcept { return nullptr; }

const char* const provides[] = {"bad", nullptr};

#define BAD_ABI_MAJOR 1
#define BAD_ABI_MINOR 2
#define BAD_FINGERPRINT 3
#define BAD_NULL_DESCRIPTOR 4
#define BAD_ID 5
#define BAD_KIND 6

constexpr std::uint32_t major =
    PORTAL_BAD_CASE == BAD_ABI_MAJOR ? portal::plugin::kAbiMajor + 1 : portal::plugin::kAbiMajor;
constexpr std::uint32_t minor =
    PORTAL_BAD_CASE == BAD_ABI_MINOR ? portal::plugin::kAbiMinor + 1 : portal::plugin::kAbiMinor;
constexpr const char* fingerprint = PORTAL_BAD_CASE == BAD_FINGERPRINT
                                        ? "compiler=gcc-0.1;stdlib=libstdc++-0"
                                        : PORTAL_PLUGIN_FINGERPRINT;
constexpr const char* id = PORTAL_BAD_CASE == BAD_ID ? "Bad Id!" : "portal.test.bad";
constexpr Kind kind = PORTAL_BAD_CASE == BAD_KIND ? static_cast<Kind>(77) : Kind::Extension;

const Descriptor descriptor = {major,   minor,    sizeof(Descriptor), kind,         id,
                               "0.0.1", provides, fingerprint,        &make_factory};

const Descriptor* entry() noexcept {
  return PORTAL_BAD_CASE == BAD_NULL_DESCRIPTOR ? nullptr : &descriptor;
}

}  // namespace

BOOST_DLL_ALIAS(entry, portal_plugin_v1)
