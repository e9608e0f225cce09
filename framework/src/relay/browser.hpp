// SPDX-License-Identifier: Apache-2.0
#pragma once

// The browser path (docs/browser.md): requests whose Host is <label>.<portal host> are for the
// browser client, not for the relay's own pages. They get the loader page, the service worker
// (templated with the relays and the module's content-addressed names) and the module's files,
// precompressed. The files are read once, at start; the answers are decided by answer(), which
// does no I/O.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "portal/transport/transport.hpp"

namespace portal::relay {

struct BrowserOptions {
  std::string portal_url;                   ///< http(s)://host[:port]
  std::string app_hosts;                    ///< "*.<host>[:port]"; empty: from portal_url
  std::string frontend_dir;                 ///< empty: next to the executable, then a build tree's
  std::vector<std::string> advertise;       ///< client-facing relay URIs; ws(s):// ones are used
  std::vector<std::string> reserved_names;  ///< labels that are never app hosts
};

class BrowserSite {
 public:
  /// Loads the frontend files. Problems (no files, a bad manifest) are logged once through
  /// `log`; the routes then answer 503 with a clear page.
  BrowserSite(BrowserOptions options, const std::function<void(const std::string&)>& log);

  /// The "*" gate route: status 0 when `req` is not for an app host.
  [[nodiscard]] transport::HttpResponse answer(const transport::HttpRequest& req) const;

  /// The app host suffix requests are matched against (".localhost:4017"), lower case.
  [[nodiscard]] const std::string& suffix() const noexcept { return suffix_; }
  /// "http://" or "https://", as portal_url says: a lease's page is scheme() + label + suffix().
  [[nodiscard]] const std::string& scheme() const noexcept { return scheme_; }
  /// The relays the worker connects to.
  [[nodiscard]] const std::vector<std::string>& relays() const noexcept { return relays_; }
  [[nodiscard]] bool ready() const noexcept { return problem_.empty(); }

 private:
  struct File {
    std::string content_type;
    std::string identity;  // the bytes
    std::string br;        // brotli, may be empty
    std::string gzip;      // gzip, may be empty
  };

  transport::HttpResponse file(const File& f, const transport::HttpRequest& req) const;

  std::string suffix_;
  std::string scheme_;
  std::vector<std::string> relays_;
  std::string problem_;                             // why the files are unusable; empty when ready
  std::map<std::string, File, std::less<>> files_;  // by "/frontend/<name>"
  std::vector<std::string> not_apps_;  // labels that stay the relay's (reserved, advertised)
  std::string loader_;
  std::string polyfill_;  // ws-polyfill.js, which the worker puts in every proxied page
  std::string worker_;    // templated
};

/// The lower-cased app host label of `host` when it ends with `suffix` and has exactly one
/// more DNS label in front ("web" for "Web.localhost:4017"); empty otherwise.
[[nodiscard]] std::string app_label(std::string_view host, std::string_view suffix);

}  // namespace portal::relay
