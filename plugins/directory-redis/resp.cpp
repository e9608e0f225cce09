// SPDX-License-Identifier: Apache-2.0
#include "resp.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Redis/Array.h>
#include <Poco/Timespan.h>

#include <algorithm>
#include <charconv>

namespace portal::redis {

namespace {

constexpr std::size_t kReadChunk = 16 * 1024;

Poco::Timespan remaining(Clock::time_point deadline, const char* what) {
  auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
  if (left.count() <= 0)
    throw TimeoutError(std::string("no answer from Redis in time (") + what + ")");
  return Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(left.count()));
}

std::int64_t parse_integer(const std::string& text, const char* what) {
  std::int64_t n = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, n);
  if (ec != std::errc() || p != end || text.empty()) {
    throw ProtocolError(std::string("Redis sent a bad ") + what + " '" + text.substr(0, 32) + "'");
  }
  return n;
}

}  // namespace

std::string encode(const std::vector<std::string>& args) {
  Poco::Redis::Array command;
  for (const auto& a : args) command.add(a);
  return Poco::Redis::RedisTypeTraits<Poco::Redis::Array>::toString(command);
}

Connection::Connection(const std::string& host, std::uint16_t port,
                       std::chrono::milliseconds timeout, const Limits& limits)
    : limits_(limits) {
  try {
    socket_.connect(Poco::Net::SocketAddress(host, port),
                    Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(timeout.count()) * 1000));
    socket_.setNoDelay(true);
  } catch (const Poco::TimeoutException&) {
    throw IoError("connecting to " + host + ":" + std::to_string(port) + " timed out");
  } catch (const Poco::Exception& e) {
    throw IoError("connecting to " + host + ":" + std::to_string(port) + ": " + e.displayText());
  }
}

Connection::~Connection() {
  try {
    socket_.close();
  } catch (...) {  // NOLINT(bugprone-empty-catch): closing a broken socket may fail; nothing to do
  }
}

void Connection::abort() noexcept {
  try {
    socket_.shutdown();
  } catch (...) {  // NOLINT(bugprone-empty-catch): already closed or broken; nothing to do
  }
}

void Connection::send(const std::string& bytes, Clock::time_point deadline) {
  std::size_t sent = 0;
  try {
    while (sent < bytes.size()) {
      socket_.setSendTimeout(remaining(deadline, "sending"));
      int n =
          socket_.sendBytes(bytes.data() + sent,
                            static_cast<int>(std::min<std::size_t>(bytes.size() - sent, 1 << 20)));
      if (n <= 0) throw IoError("Redis connection closed while sending");
      sent += static_cast<std::size_t>(n);
    }
  } catch (const Poco::TimeoutException&) {
    throw TimeoutError("Redis did not take the request in time");
  } catch (const Poco::Exception& e) {
    throw IoError("sending to Redis: " + e.displayText());
  }
}

void Connection::fill(Clock::time_point deadline) {
  if (pos_ > 0) {
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
  char chunk[kReadChunk];
  int n = 0;
  try {
    socket_.setReceiveTimeout(remaining(deadline, "reading"));
    n = socket_.receiveBytes(chunk, static_cast<int>(sizeof chunk));
  } catch (const Poco::TimeoutException&) {
    throw TimeoutError("no answer from Redis in time");
  } catch (const Poco::Exception& e) {
    throw IoError("reading from Redis: " + e.displayText());
  }
  if (n <= 0) throw IoError("Redis closed the connection");
  buffer_.append(chunk, static_cast<std::size_t>(n));
}

std::string Connection::line(Clock::time_point deadline) {
  std::size_t searched = pos_;
  for (;;) {
    auto crlf = buffer_.find("\r\n", searched);
    if (crlf != std::string::npos && crlf - pos_ > limits_.max_line) crlf = std::string::npos;
    if (crlf != std::string::npos) {
      std::string out = buffer_.substr(pos_, crlf - pos_);
      pos_ = crlf + 2;
      return out;
    }
    if (buffer_.size() - pos_ > limits_.max_line) {
      throw ProtocolError("Redis sent a line longer than " + std::to_string(limits_.max_line) +
                          " bytes");
    }
    std::size_t have = buffer_.size() - pos_;
    fill(deadline);  // moves the unread bytes to the front
    searched = have == 0 ? 0 : have - 1;
  }
}

Value Connection::read(Clock::time_point deadline) {
  std::size_t elements = 0;
  std::size_t total = 0;
  return value(deadline, 0, elements, total);
}

Value Connection::value(Clock::time_point deadline, int depth, std::size_t& elements,
                        std::size_t& total) {
  std::string head = line(deadline);
  if (head.empty()) throw ProtocolError("Redis sent an empty reply line");
  Value v;
  std::string rest = head.substr(1);
  switch (head[0]) {
    case '+':
      v.type = Value::Type::Simple;
      v.text = std::move(rest);
      return v;
    case '-':
      v.type = Value::Type::Error;
      v.text = std::move(rest);
      return v;
    case ':':
      v.type = Value::Type::Integer;
      v.integer = parse_integer(rest, "integer");
      return v;
    case '$': {
      std::int64_t length = parse_integer(rest, "bulk length");
      if (length == -1) return v;  // Nil
      if (length < 0 || static_cast<std::uint64_t>(length) > limits_.max_bulk) {
        throw ProtocolError("Redis sent a bulk string of " + rest + " bytes, at most " +
                            std::to_string(limits_.max_bulk));
      }
      auto n = static_cast<std::size_t>(length);
      total += n;
      if (total > limits_.max_total) {
        throw ProtocolError("Redis sent a reply of more than " + std::to_string(limits_.max_total) +
                            " bytes");
      }
      while (buffer_.size() - pos_ < n + 2) fill(deadline);
      if (buffer_.compare(pos_ + n, 2, "\r\n") != 0) {
        throw ProtocolError("Redis sent a bulk string without its CRLF");
      }
      v.type = Value::Type::Bulk;
      v.text = buffer_.substr(pos_, n);
      pos_ += n + 2;
      return v;
    }
    case '*': {
      std::int64_t count = parse_integer(rest, "array length");
      if (count == -1) return v;  // Nil
      if (depth >= limits_.max_depth) throw ProtocolError("Redis sent arrays nested too deep");
      if (count < 0 || static_cast<std::uint64_t>(count) > limits_.max_elements - elements) {
        throw ProtocolError("Redis sent an array of " + rest + " elements, at most " +
                            std::to_string(limits_.max_elements - elements));
      }
      elements += static_cast<std::size_t>(count);
      v.type = Value::Type::Array;
      v.items.reserve(static_cast<std::size_t>(count));
      for (std::int64_t i = 0; i < count; ++i) {
        v.items.push_back(value(deadline, depth + 1, elements, total));
      }
      return v;
    }
    default: throw ProtocolError("Redis sent a reply of unknown type '" + head.substr(0, 1) + "'");
  }
}

}  // namespace portal::redis
