#pragma once
// StoreReplies: reading RedisReply values and turning store failures into Errors, plus
// runBatch(), which pipelines several commands and answers once with all replies.
//
// A transport failure (Redis down, timed out) and Redis refusing work (OOM, LOADING, READONLY,
// ...) are "store_unavailable" (HTTP 503): the caller must not claim success. Any other error
// reply is a bug in a script or a command: "internal" (HTTP 500).
//
// Thread: loop thread (runBatch issues commands on the RedisClient).
#include <charconv>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "infra/Error.h"
#include "infra/RedisClient.h"

namespace bloomcast::orders {

template <class T>
using Callback = std::function<void(std::expected<T, Error>)>;

// The reply, or the Error it stands for (transport failure or error reply).
inline std::expected<const RedisReply*, Error> checked(const RedisResult& r) {
  if (!r) return std::unexpected(r.error());
  if (r->isError()) {
    static constexpr std::string_view kBusy[] = {"OOM",         "LOADING",  "BUSY",
                                                 "MASTERDOWN",  "READONLY", "CLUSTERDOWN",
                                                 "TRYAGAIN",    "NOREPLICAS", "MISCONF"};
    for (auto prefix : kBusy)
      if (r->str.starts_with(prefix))
        return std::unexpected(Error{"store_unavailable", "redis: " + r->str});
    return std::unexpected(Error{"internal", "redis: " + r->str});
  }
  return &*r;
}

// String, Status or Integer reply as text; "" for nil and others.
inline std::string replyText(const RedisReply& r) {
  switch (r.type) {
    case RedisReply::Type::String:
    case RedisReply::Type::Status: return r.str;
    case RedisReply::Type::Integer: return std::to_string(r.integer);
    default: return "";
  }
}

// Integer reply, or a String/Status holding a decimal integer; nullopt otherwise.
inline std::optional<int64_t> replyInt(const RedisReply& r) {
  if (r.type == RedisReply::Type::Integer) return r.integer;
  if (r.type != RedisReply::Type::String && r.type != RedisReply::Type::Status) return std::nullopt;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(r.str.data(), r.str.data() + r.str.size(), v);
  if (ec != std::errc() || p != r.str.data() + r.str.size()) return std::nullopt;
  return v;
}

inline int64_t replyIntOr(const RedisReply& r, int64_t fallback) {
  return replyInt(r).value_or(fallback);
}

// Element i of an array reply, or a shared nil reply when absent.
inline const RedisReply& element(const RedisReply& r, std::size_t i) {
  static const RedisReply nil;
  return i < r.elements.size() ? r.elements[i] : nil;
}

// Runs `commands` pipelined (issued together, so they leave in one write) and calls `done` once:
// with every reply in order, or with the first failure (see checked()).
inline void runBatch(RedisClient& redis, std::vector<std::vector<std::string>> commands,
                     Callback<std::vector<RedisReply>> done) {
  struct State {
    std::vector<RedisReply> replies;
    std::size_t left;
    std::optional<Error> error;
    Callback<std::vector<RedisReply>> done;
  };
  if (commands.empty()) {
    done(std::vector<RedisReply>{});
    return;
  }
  auto state = std::make_shared<State>();
  state->replies.resize(commands.size());
  state->left = commands.size();
  state->done = std::move(done);
  for (std::size_t i = 0; i < commands.size(); ++i) {
    redis.command(commands[i], [state, i](RedisResult r) {
      auto c = checked(r);
      if (!c) {
        if (!state->error) state->error = c.error();
      } else {
        state->replies[i] = std::move(*r);
      }
      if (--state->left > 0) return;
      if (state->error) state->done(std::unexpected(*state->error));
      else state->done(std::move(state->replies));
    });
  }
}

}  // namespace bloomcast::orders
