// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the JSON config loaders (framework/src/config). The input's first byte picks the
// relay's or the client's config; the rest is the file's text. Checked: apply_json() never
// throws and every problem has a reason (and a line and column only for syntax errors); a text
// it accepts prints (to_json) as a config that reads back without a problem and prints the same
// again, from the defaults and over the config itself (the printed form is complete); and
// normalize_relay_uri() keeps what it returns a fixed point.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "portal/config/client_config.hpp"
#include "portal/config/relay_config.hpp"

using namespace portal;

namespace {

void check_problems(const std::vector<config::Problem>& problems) {
  for (const auto& p : problems) {
    if (p.reason.empty()) std::abort();
    if ((p.line == 0) != (p.column == 0)) std::abort();
    if (p.line != 0 && !p.key.empty()) std::abort();
    (void)p.to_string("fuzz.json");
  }
}

template <class Config>
void round_trip(std::string_view text) {
  Config config;
  std::vector<config::Problem> problems;
  config::apply_json(text, config, problems);
  check_problems(problems);
  if (!problems.empty()) return;
  const std::string printed = config::to_json(config);
  Config again;
  config::apply_json(printed, again, problems);
  if (!problems.empty()) std::abort();  // what we print, we read
  if (config::to_json(again) != printed) std::abort();
  config::apply_json(printed, config, problems);  // over itself: nothing changes
  if (!problems.empty() || config::to_json(config) != printed) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: round_trip<config::RelayConfig>(text); break;
    case 1: round_trip<config::ClientConfig>(text); break;
    default: {
      const std::string uri = config::normalize_relay_uri(text);
      if (!uri.empty() && config::normalize_relay_uri(uri) != uri) std::abort();
      break;
    }
  }
  return 0;
}
