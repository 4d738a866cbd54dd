#pragma once
// ModerationBodies: the JSON bodies of the chat moderation calls (docs/API.md, "Chat"),
// decoded. ChatService's handlers call these and nothing else to read a body;
// tests/fuzz/fuzz_api_body.cc fuzzes them.
//
//   POST /api/streams/ID/chat/ban, .../unban   {"user": non-empty string}
//   POST /api/streams/ID/chat/delete           {"id": positive integer}
//   POST /api/streams/ID/chat/slow             {"seconds": 0..300}
//   PUT  /api/chat/keywords                    {"keywords": [up to 1000 strings of 1..100 bytes]}
//
// The room calls check the body in two steps, as the handler answers them: is it a JSON object
// at all (invalid_json, before the caller's right to moderate is asked), then its fields
// (bad_request). The keyword list is one step, every fault bad_request.
//
// Pure functions of bytes (nlohmann-json only; the fuzz build compiles them). Thread-safe.
#include <cstddef>
#include <cstdint>
#include <expected>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "infra/Error.h"

namespace bloomcast::chat {

inline constexpr int64_t kMaxSlowModeSeconds = 300;
inline constexpr std::size_t kMaxKeywords = 1000;
inline constexpr std::size_t kMaxKeywordBytes = 100;

// A room call's body as a JSON object; no body counts as {}. Else invalid_json.
std::expected<nlohmann::json, Error> parseModerationObject(std::string_view body);

struct BanBody {
  std::string user;
};
std::expected<BanBody, Error> decodeBanBody(const nlohmann::json& body);

struct DeleteBody {
  int64_t id = 0;  // > 0
};
std::expected<DeleteBody, Error> decodeDeleteBody(const nlohmann::json& body);

struct SlowModeBody {
  int seconds = 0;  // 0..300, 0 = off
};
std::expected<SlowModeBody, Error> decodeSlowModeBody(const nlohmann::json& body);

struct KeywordsBody {
  std::vector<std::string> keywords;
};
std::expected<KeywordsBody, Error> decodeKeywordsBody(std::string_view body);

}  // namespace bloomcast::chat
