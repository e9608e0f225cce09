// SPDX-License-Identifier: Apache-2.0
#pragma once

/// \file
/// The export macro of libportal.

/// PORTAL_API marks a declaration that libportal exports. libportal is built with hidden
/// visibility, so everything else stays private to the library. Define PORTAL_STATIC when
/// linking the framework statically (WebAssembly, a fully static relay).
#if defined(PORTAL_STATIC)
#define PORTAL_API
#else
#define PORTAL_API __attribute__((visibility("default")))
#endif
