// SPDX-License-Identifier: Apache-2.0
// Floods against the real portal-relay on loopback (issue 23; ctest label "faults").

#include "faults/faults_harness.hpp"
