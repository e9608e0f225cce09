// SPDX-License-Identifier: Apache-2.0
// portal expose / connect / info: the client SDK driven from the command line. Results on
// stdout, logs and per-connection errors on stderr (one line each), SIGINT/SIGTERM end cleanly.

#include "commands.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <iostream>
#include <optional>

#include "../common/cli_main.hpp"
#include "../common/config_file.hpp"
#include "keys.hpp"
#include "portal/base/log.hpp"
#include "portal/base/random.hpp"
#include "portal/client/client.hpp"
#include "portal/identity/identity.hpp"
#include "portal/lease/name.hpp"
#include "portal/stream/logged.hpp"
#include "portal/stream/splice.hpp"
#include "portal/transport/transport.hpp"

namespace portal::apps {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using base::LogLevel;

void add_stack_flags(CLI::App* cmd, StackFlags& f) {
  cmd->add_option("--relay", f.relays,
                  "Relay URI(s), comma-separated: ws://HOST:PORT/relay, tcp://HOST:PORT, "
                  "http(s)://HOST or HOST[:PORT] (replaces \"relays\" of --config)")
      ->type_name("URI[,URI...]");
  cmd->add_option("--key", f.key_file,
                  "Identity key file (PKCS#8 PEM, mode 0600); default: a new identity")
      ->type_name("FILE");
  cmd->add_option("--config", f.config_file, "Client config (JSON) over the embedded defaults")
      ->type_name("FILE");
  cmd->add_option("--plugin-dir", f.plugin_dirs,
                  "Load plugins from DIR instead of <prefix>/lib/portal/plugins (repeatable)")
      ->type_name("DIR");
  cmd->add_option("--ca-file", f.ca_file,
                  "PEM CA certificates trusted for tls:// and wss:// relays, besides the system "
                  "store (the relay's host name is always verified)")
      ->type_name("FILE");
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  out.push_back(cur);
  return out;
}

struct Prepared {
  config::ClientConfig cfg;
  std::shared_ptr<client::Stack> stack;
};

// The identity of --key, or a new one.
identity::Credential credential_of(const StackFlags& f) {
  if (!f.key_file.empty()) return load_key(f.key_file);
  auto g = identity::Credential::generate(base::OsRandom::instance());
  if (!g) throw UsageError("cannot create an identity: " + g.error().message());
  return std::move(*g);
}

// Config file, then flags; the stack assembled.
Prepared prepare(const StackFlags& f) {
  config::ClientConfig cfg;
  if (!f.config_file.empty()) {
    const auto problems = load_config_file(f.config_file, cfg);
    if (!problems.empty()) {
      for (std::size_t i = 1; i < problems.size(); ++i) {
        std::cerr << "portal: error: " << problems[i].to_string(f.config_file) << '\n';
      }
      throw UsageError(problems.front().to_string(f.config_file));
    }
  }
  if (!f.plugin_dirs.empty()) cfg.plugin_dirs = f.plugin_dirs;
  if (!f.ca_file.empty()) {
    for (const char* scheme : {"tls", "wss"}) cfg.transport_settings[scheme]["ca_file"] = f.ca_file;
  }
  if (!f.relays.empty()) {
    cfg.relays.clear();
    for (const auto& r : split(f.relays, ',')) {
      auto n = config::normalize_relay_uri(r);
      if (n.empty()) {
        throw UsageError("--relay '" + r +
                         "': not a relay address (ws://HOST:PORT/relay, tcp://HOST:PORT, "
                         "http(s)://HOST, HOST[:PORT] or SCHEME:///PATH)");
      }
      cfg.relays.push_back(std::move(n));
    }
  }
  if (cfg.relays.empty()) throw UsageError("no relay: give --relay URI or \"relays\" in --config");
  base::set_log_level(
      portal::base::parse_log_level(cfg.log_level).value_or(portal::base::LogLevel::Info));
  std::string error;
  auto stack = client::assemble(cfg, error);
  if (!stack) throw UsageError(error);
  for (const auto& w : stack->warnings) base::log(LogLevel::Warn, "plugin", "refused " + w);
  return Prepared{std::move(cfg), std::move(stack)};
}

client::Options options_of(const config::ClientConfig& cfg) {
  client::Options o;
  o.relays = cfg.relays;
  o.timers = cfg.timers;
  return o;
}

// HOST:PORT (IPv6 in brackets) as a tcp:// URI.
transport::Uri tcp_uri(const std::string& flag, const std::string& text) {
  auto uri = transport::parse_uri("tcp://" + text);
  if (!uri || text.find('/') != std::string::npos || uri->host.empty()) {
    throw UsageError(flag + " '" + text + "': expected HOST:PORT");
  }
  return *uri;
}

std::shared_ptr<transport::TransportFactory> tcp_transport(const client::Stack& stack) {
  auto tf = transport::resolve(*stack.host, "tcp://127.0.0.1:0");
  if (!tf) throw UsageError("no tcp transport plugin: " + tf.error().message());
  return *tf;
}

transport::Settings tcp_settings(const client::Stack& stack) {
  auto it = stack.transport_settings.find("tcp");
  return it == stack.transport_settings.end() ? transport::Settings{} : it->second;
}

std::string one_line(const base::ErrorCode& ec, const std::string& detail) {
  return ec.message() + (detail.empty() ? "" : " (" + detail + ")");
}

// Runs `main` on `io` with SIGINT/SIGTERM calling `stop`; returns main's status. Callers declare
// `io` before the objects the coroutines use, so those go away while `io` still exists.
int run_io(asio::io_context& io, const std::function<asio::awaitable<int>()>& main,
           const std::function<asio::awaitable<void>()>& stop) {
  std::optional<int> status;
  std::exception_ptr failure;
  bool stopping = false;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    stopping = true;
    signals.async_wait([&](const boost::system::error_code& e2, int) {
      if (!e2) io.stop();  // a second signal stops at once
    });
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          co_await stop();
          if (!status) status = 0;
        },
        [&](std::exception_ptr e) {
          stream::logged("portal", "shutdown")(e);
          io.stop();
        });
  });
  asio::co_spawn(io, main(), [&](std::exception_ptr e, int s) {
    if (e) failure = e;
    if (!status) status = s;
    // After a signal, `stop` ends the loop once it has finished (e.g. the lease deletes).
    if (!stopping) io.stop();
  });
  io.run();
  if (failure) std::rethrow_exception(failure);
  return status.value_or(0);
}

// A relay's strings (v1 relays check nothing) reach the terminal without control characters.
std::string printable(std::string s) {
  for (auto& ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    if (u < 0x20 || u == 0x7f) ch = '?';
  }
  return s;
}

// v1's metadata JSON, keys in its order (portal-v1 §6.2).
std::string metadata_of(const ExposeFlags& f) {
  json::object m;
  m["description"] = f.description;
  if (f.tags.empty()) {
    m["tags"] = nullptr;
  } else {
    json::array tags;
    for (const auto& t : f.tags) tags.emplace_back(t);
    m["tags"] = std::move(tags);
  }
  m["thumbnail"] = "";
  m["owner"] = f.owner;
  m["hide"] = f.hide;
  return json::serialize(m);
}

// One relay's RelayInfo answer, as `portal info` prints it; sets `status` to 1 on an error.
void print_relay_info(const client::RelayInfoResult& r, int& status) {
  if (!r.info) {
    std::cerr << "portal: error: " << r.relay << ": " << r.info.error().message() << '\n';
    status = 1;
    return;
  }
  const auto& info = *r.info;
  std::cout << "relay " << r.relay << "\n"
            << "  id:      " << (info.identity ? info.identity->id : "(none)") << "\n";
  for (const auto& a : info.address) std::cout << "  address: " << printable(a) << "\n";
  if (!info.features.empty()) {  // ours (ADR 0016); a v1 relay lists none
    std::string features;
    for (const auto& f : info.features) features += (features.empty() ? "" : ",") + printable(f);
    std::cout << "  features: " << features << "\n";
  }
  std::cout << "  leases:  " << info.leases.size() << "\n";
  const auto now = base::unix_seconds(base::SystemClock::instance().system_now());
  for (const auto& l : info.leases) {
    std::string alpn;
    for (const auto& a : l.alpn) alpn += (alpn.empty() ? "" : ",") + printable(a);
    std::cout << "    " << (l.name.empty() ? "(unnamed)" : printable(l.name)) << "  "
              << (l.identity ? l.identity->id : "-") << "  alpn " << alpn << "  expires in "
              << (l.expires - now) << " s\n";
  }
  std::cout.flush();
}

}  // namespace

// ---------------------------------------------------------------------------------------------

CLI::App* add_expose(CLI::App& app, ExposeFlags& f) {
  auto* cmd = app.add_subcommand(
      "expose",
      "Publish a local TCP service through the relay(s) under a lease; every incoming "
      "end-to-end encrypted connection is forwarded to --target");
  add_stack_flags(cmd, f.stack);
  cmd->add_option("--target", f.target, "The local service, HOST:PORT")->required();
  cmd->add_option("--name", f.name, "Lease name (default: tunnel-<first 8 characters of the ID>)");
  cmd->add_option("--alpn", f.alpn, "Accepted ALPN protocols, comma-separated")
      ->capture_default_str();
  cmd->add_option("--description", f.description, "Lease metadata: description");
  cmd->add_option("--owner", f.owner, "Lease metadata: owner");
  cmd->add_option("--tag", f.tags, "Lease metadata: a tag (repeatable)");
  cmd->add_flag("--hide", f.hide, "Lease metadata: hide from the relay's public lease list");
  return cmd;
}

int run_expose(const ExposeFlags& f) {
  auto p = prepare(f.stack);  // first: the plugins outlive everything that runs their code
  asio::io_context io(1);     // then the loop: it outlives the objects its coroutines use
  const auto target = tcp_uri("--target", f.target);
  const auto tcp = tcp_transport(*p.stack);
  const auto settings = tcp_settings(*p.stack);
  std::vector<std::string> alpns;
  for (const auto& a : split(f.alpn, ',')) {
    if (a.empty()) throw UsageError("--alpn '" + f.alpn + "': empty protocol name");
    alpns.push_back(a);
  }
  auto me = credential_of(f.stack);
  const std::string name = f.name.empty() ? "tunnel-" + me.id().substr(0, 8) : f.name;
  if (!lease::is_valid_name(name)) {
    throw UsageError("--name '" + name +
                     "': " + make_error_code(client::Errc::InvalidName).message());
  }
  std::shared_ptr<client::Client> c;
  std::shared_ptr<client::Listener> listener;
  std::string error;

  auto main = [&]() -> asio::awaitable<int> {
    std::string detail;
    auto connected = co_await client::Client::connect(io.get_executor(), std::move(me), p.stack,
                                                      options_of(p.cfg), &detail);
    if (!connected) {
      error = "cannot reach any relay: " + one_line(connected.error(), detail);
      co_return 1;
    }
    c = *connected;
    auto l = co_await c->listen(name, alpns, metadata_of(f), &detail);
    if (!l) {
      error = "cannot register lease '" + name + "': " + one_line(l.error(), detail);
      co_await c->close();
      co_return 1;
    }
    listener = *l;
    std::cout << "exposing " << target.host << ":" << target.port << "\n"
              << "  name:  " << name << "\n"
              << "  id:    " << c->credential().id() << "\n"
              << "  alpn:  " << f.alpn << "\n";
    for (const auto& r : c->relays()) {
      const auto reg = listener->registered_on();
      const bool ok = std::find(reg.begin(), reg.end(), r.relay) != reg.end();
      std::cout << "  relay: " << r.relay
                << (ok     ? " (registered)"
                    : r.up ? " (not registered yet: the log says when it is, or why not)"
                           : " (not connected yet: retrying in the background)")
                << "\n";
    }
    std::string relays;
    for (const auto& r : p.cfg.relays) relays += (relays.empty() ? "" : ",") + r;
    std::cout << "connect with: portal connect " << name << " --relay " << relays
              << " --listen 127.0.0.1:PORT\n";
    std::cout.flush();
    const auto ex = io.get_executor();
    for (;;) {
      auto s = co_await listener->accept();
      if (!s) break;
      asio::co_spawn(
          ex,
          [tcp, target, settings, ex,
           s = std::shared_ptr<stream::ByteStream>(
               std::move(*s))]() mutable -> asio::awaitable<void> {
            auto local = co_await tcp->async_connect(ex, target, settings);
            if (!local) {
              base::log(LogLevel::Warn, "expose",
                        "cannot reach " + target.host + ":" + std::to_string(target.port) + ": " +
                            local.error().message());
              s->close();
              co_return;
            }
            (void)co_await stream::splice(s,
                                          std::shared_ptr<stream::ByteStream>(std::move(*local)));
          },
          stream::logged("expose", "connection"));
    }
    co_return 0;
  };
  auto stop = [&]() -> asio::awaitable<void> {
    if (listener) co_await listener->close();
    if (c) co_await c->close();
  };
  const int status = run_io(io, main, stop);
  if (!error.empty()) throw UsageError(error);
  return status;
}

// ---------------------------------------------------------------------------------------------

CLI::App* add_connect(CLI::App& app, ConnectFlags& f) {
  auto* cmd = app.add_subcommand(
      "connect",
      "Turn each local TCP connection on --listen into an end-to-end encrypted connection to "
      "TARGET (a lease name or ID), as ssh -L does");
  cmd->add_option("TARGET", f.target, "Lease name (case-insensitive) or 26-character ID")
      ->required();
  add_stack_flags(cmd, f.stack);
  cmd->add_option("--listen", f.listen, "Local address to listen on, HOST:PORT (port 0: any)")
      ->required();
  cmd->add_option("--alpn", f.alpn, "The ALPN protocol to ask for")->capture_default_str();
  return cmd;
}

int run_connect(const ConnectFlags& f) {
  auto p = prepare(f.stack);  // first: the plugins outlive everything that runs their code
  asio::io_context io(1);     // then the loop: it outlives the objects its coroutines use
  const auto local = tcp_uri("--listen", f.listen);
  const auto tcp = tcp_transport(*p.stack);
  if (f.alpn.empty()) throw UsageError("--alpn: empty protocol name");
  std::shared_ptr<client::Client> c;
  std::unique_ptr<transport::Listener> server;
  std::string error;

  auto me = credential_of(f.stack);
  auto main = [&]() -> asio::awaitable<int> {
    const auto ex = io.get_executor();
    auto bound = tcp->listen(ex, local, tcp_settings(*p.stack));
    if (!bound) {
      error = "cannot listen on " + f.listen + ": " + bound.error().message();
      co_return 1;
    }
    server = std::move(*bound);
    std::string detail;
    auto connected =
        co_await client::Client::connect(ex, std::move(me), p.stack, options_of(p.cfg), &detail);
    if (!connected) {
      error = "cannot reach any relay: " + one_line(connected.error(), detail);
      co_return 1;
    }
    c = *connected;
    const auto at = server->local_uri();
    std::cout << "listening " << at.host << ":" << at.port << " -> " << f.target << " (" << f.alpn
              << ")\n";
    std::cout.flush();
    if (!identity::id_in_any_case(f.target)) {
      if (auto found = co_await c->lookup(f.target); !found) {
        base::log(LogLevel::Warn, "connect",
                  "no lease named '" + f.target + "' yet: " + found.error().message());
      }
    }
    for (;;) {
      auto s = co_await server->async_accept();
      if (!s) break;
      asio::co_spawn(
          ex,
          [c, target = f.target, alpn = f.alpn,
           s = std::shared_ptr<stream::ByteStream>(std::move(*s))]() -> asio::awaitable<void> {
            std::string why;
            auto remote = co_await c->dial(target, alpn, &why);
            if (!remote) {
              base::log(LogLevel::Error, "connect",
                        "cannot connect to '" + target + "': " + one_line(remote.error(), why));
              s->close();
              co_return;
            }
            (void)co_await stream::splice(s,
                                          std::shared_ptr<stream::ByteStream>(std::move(*remote)));
          },
          stream::logged("connect", "connection"));
    }
    co_return 0;
  };
  auto stop = [&]() -> asio::awaitable<void> {
    if (server) server->close();
    if (c) co_await c->close();
  };
  const int status = run_io(io, main, stop);
  if (!error.empty()) throw UsageError(error);
  return status;
}

// ---------------------------------------------------------------------------------------------

CLI::App* add_info(CLI::App& app, InfoFlags& f) {
  auto* cmd = app.add_subcommand("info", "Show each relay's ID, addresses and leases");
  add_stack_flags(cmd, f.stack);
  return cmd;
}

int run_info(const InfoFlags& f) {
  auto p = prepare(f.stack);  // first: the plugins outlive everything that runs their code
  asio::io_context io(1);     // then the loop: it outlives the objects its coroutines use
  std::string error;
  const auto me = credential_of(f.stack);  // every relay gets a client with this identity
  auto main = [&]() -> asio::awaitable<int> {
    // One client per relay, so that every relay is asked (a client starts with the first relay
    // that is up) and each failure is reported against its relay.
    int status = 0;
    std::vector<std::string> failures;
    for (const auto& relay : p.cfg.relays) {
      auto options = options_of(p.cfg);
      options.relays = {relay};
      std::string detail;
      auto c = co_await client::Client::connect(
          io.get_executor(), identity::Credential::from_seed(me.seed().span()).value(), p.stack,
          options, &detail);
      if (!c) {
        failures.push_back(detail.empty() ? relay + ": " + c.error().message() : detail);
        continue;
      }
      for (const auto& r : co_await (*c)->relay_info()) {
        print_relay_info(r, status);
      }
      co_await (*c)->close();
    }
    if (failures.size() == p.cfg.relays.size()) {
      std::string all;
      for (const auto& x : failures) all += (all.empty() ? "" : "; ") + x;
      error = "cannot reach any relay: " + all;
      co_return 1;
    }
    for (const auto& x : failures) std::cerr << "portal: error: cannot reach " << x << '\n';
    co_return failures.empty() ? status : 1;
  };
  const int status = run_io(io, main, []() -> asio::awaitable<void> { co_return; });
  if (!error.empty()) throw UsageError(error);
  return status;
}

}  // namespace portal::apps
