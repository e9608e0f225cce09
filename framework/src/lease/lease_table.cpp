// SPDX-License-Identifier: Apache-2.0
#include "portal/lease/lease_table.hpp"

#include "portal/lease/name.hpp"

namespace portal::lease {

using wire::ResponseCode;

namespace {

// Names that take part in the uniqueness rule.
bool claims(const std::string& name) { return !name.empty() && name != kUnnamed; }

}  // namespace

const char* to_string(Refusal r) noexcept {
  switch (r) {
    case Refusal::None: return "";
    case Refusal::Expired: return "expired";
    case Refusal::NameTaken: return "name_taken";
    case Refusal::NameTakenIgnoringCase: return "name_taken_ignoring_case";
    case Refusal::LeasesPerConnection: return "leases_per_connection";
    case Refusal::LeaseTooLarge: return "lease_too_large";
    case Refusal::TableFull: return "lease_table_full";
  }
  return "";
}

std::size_t variable_bytes(const wire::Lease& lease) noexcept {
  std::size_t n = lease.name.size() + lease.metadata.size();
  for (const auto& a : lease.alpn) n += a.size();
  return n;
}

void LeaseTable::erase(Entries::iterator it) {
  ++generation_;
  const Entry& e = it->second;
  if (auto c = per_connection_.find(e.connection); c != per_connection_.end() && --c->second == 0) {
    per_connection_.erase(c);
  }
  if (claims(e.lease.name)) {
    if (auto n = names_.find(fold_name(e.lease.name));
        n != names_.end() && n->second == it->first) {
      names_.erase(n);
    }
  }
  entries_.erase(it);
}

const std::string* LeaseTable::holder_of_name(std::string_view name) const {
  auto it = names_.find(fold_name(name));
  return it == names_.end() ? nullptr : &it->second;
}

ResponseCode LeaseTable::update(const wire::Lease& lease, ConnectionId connection, std::int64_t now,
                                Refusal* why) {
  auto refuse = [why](Refusal r) {
    if (why != nullptr) *why = r;
    return ResponseCode::Rejected;
  };
  if (why != nullptr) *why = Refusal::None;
  if (!lease.identity) return ResponseCode::InvalidIdentity;
  const std::string& id = lease.identity->id;
  // §6.3 rule 1: an already expired lease is refused (second resolution).
  if (now > lease.expires) return refuse(Refusal::Expired);
  if (variable_bytes(lease) > limits_.max_lease_bytes) return refuse(Refusal::LeaseTooLarge);
  // §6.3 rule 3, made case-insensitive: names are unique across identities under case folding;
  // "(unnamed)" is exempt and expired entries that are not swept yet still hold their name.
  std::string folded;
  if (claims(lease.name)) {
    folded = fold_name(lease.name);
    if (auto n = names_.find(folded); n != names_.end() && n->second != id) {
      const auto other = entries_.find(n->second);
      const bool exact = other != entries_.end() && other->second.lease.name == lease.name;
      return refuse(exact ? Refusal::NameTaken : Refusal::NameTakenIgnoringCase);
    }
  }
  auto existing = entries_.find(id);
  const bool moves = existing == entries_.end() || existing->second.connection != connection;
  if (moves && count(connection) >= limits_.max_leases_per_connection) {
    return refuse(Refusal::LeasesPerConnection);
  }
  if (existing == entries_.end() && entries_.size() >= limits_.max_leases) {
    return refuse(Refusal::TableFull);
  }
  // §6.3 rule 4: store or replace, bound to the connection this update arrived on.
  Entry entry{lease, connection, now};
  if (limits_.max_ttl_seconds > 0 && entry.lease.expires - now > limits_.max_ttl_seconds) {
    entry.lease.expires = now + limits_.max_ttl_seconds;
  }
  if (existing != entries_.end()) erase(existing);
  entries_.emplace(id, std::move(entry));
  ++per_connection_[connection];
  if (!folded.empty()) names_[std::move(folded)] = id;
  ++generation_;
  return ResponseCode::Accepted;
}

ResponseCode LeaseTable::remove(std::string_view id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return ResponseCode::InvalidIdentity;
  erase(it);
  return ResponseCode::Accepted;
}

const Entry* LeaseTable::find(std::string_view id, std::int64_t now) const {
  auto it = entries_.find(id);
  if (it == entries_.end() || now > it->second.lease.expires) return nullptr;
  return &it->second;
}

std::vector<const Entry*> LeaseTable::list(std::int64_t now) const {
  std::vector<const Entry*> out;
  for (const auto& [id, e] : entries_) {
    if (now <= e.lease.expires) out.push_back(&e);
  }
  return out;
}

std::vector<std::string> LeaseTable::sweep(std::int64_t now) {
  std::vector<std::string> removed;
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto next = std::next(it);
    if (now > it->second.lease.expires) {
      removed.push_back(it->first);
      erase(it);
    }
    it = next;
  }
  return removed;
}

std::vector<std::string> LeaseTable::drop_connection(ConnectionId connection) {
  std::vector<std::string> removed;
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto next = std::next(it);
    if (it->second.connection == connection) {
      removed.push_back(it->first);
      erase(it);
    }
    it = next;
  }
  return removed;
}

std::size_t LeaseTable::count(ConnectionId connection) const {
  auto it = per_connection_.find(connection);
  return it == per_connection_.end() ? 0 : it->second;
}

}  // namespace portal::lease
