#include "chat/ModerationBodies.h"

namespace bloomcast::chat {
namespace {

Error badRequest(std::string message) { return Error{"bad_request", std::move(message)}; }

}  // namespace

std::expected<nlohmann::json, Error> parseModerationObject(std::string_view body) {
  auto j = nlohmann::json::parse(body.empty() ? std::string_view("{}") : body, nullptr,
                                 /*allow_exceptions=*/false);
  if (!j.is_object())
    return std::unexpected(Error{"invalid_json", "the body must be a JSON object"});
  return j;
}

std::expected<BanBody, Error> decodeBanBody(const nlohmann::json& body) {
  auto user = body.find("user");
  if (user == body.end() || !user->is_string() || user->get_ref<const std::string&>().empty())
    return std::unexpected(badRequest("\"user\" must be a non-empty string"));
  return BanBody{user->get<std::string>()};
}

std::expected<DeleteBody, Error> decodeDeleteBody(const nlohmann::json& body) {
  auto id = body.find("id");
  if (id == body.end() || !id->is_number_integer() || id->get<int64_t>() <= 0)
    return std::unexpected(badRequest("\"id\" must be a positive integer"));
  return DeleteBody{id->get<int64_t>()};
}

std::expected<SlowModeBody, Error> decodeSlowModeBody(const nlohmann::json& body) {
  auto seconds = body.find("seconds");
  if (seconds == body.end() || !seconds->is_number_integer() || seconds->get<int64_t>() < 0 ||
      seconds->get<int64_t>() > kMaxSlowModeSeconds)
    return std::unexpected(badRequest("\"seconds\" must be 0..300"));
  return SlowModeBody{static_cast<int>(seconds->get<int64_t>())};
}

std::expected<KeywordsBody, Error> decodeKeywordsBody(std::string_view body) {
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  auto list = j.find("keywords");  // end() when j is no object
  if (!j.is_object() || list == j.end() || !list->is_array() || list->size() > kMaxKeywords)
    return std::unexpected(badRequest("{\"keywords\": [up to 1000 strings]}"));
  KeywordsBody out;
  for (const auto& k : *list) {
    if (!k.is_string() || k.get_ref<const std::string&>().empty() ||
        k.get_ref<const std::string&>().size() > kMaxKeywordBytes)
      return std::unexpected(badRequest("keywords are strings of 1..100 bytes"));
    out.keywords.push_back(k.get<std::string>());
  }
  return out;
}

}  // namespace bloomcast::chat
