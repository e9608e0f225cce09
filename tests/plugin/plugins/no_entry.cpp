// SPDX-License-Identifier: Apache-2.0
// A valid shared library that is not a Portal plugin: it exports a function, but no entry.
extern "C" __attribute__((visibility("default"))) int portal_test_not_a_plugin() { return 42; }
