#include "chat/ChatProtocol.h"

#include <nlohmann/json.hpp>

namespace bloomcast::chat {

std::optional<std::size_t> countCodePoints(std::string_view s) {
  std::size_t count = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t len;
    uint32_t cp;
    if (c < 0x80) {
      len = 1;
      cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return std::nullopt;
    }
    if (i + len > s.size()) return std::nullopt;
    for (std::size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
    i += len;
    ++count;
  }
  return count;
}

ClientFrame parseClientFrame(std::string_view frame) {
  nlohmann::json j = nlohmann::json::parse(frame, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return ClientError{"invalid_json", "a frame is one JSON object"};
  auto type = j.find("type");
  if (type == j.end() || !type->is_string())
    return ClientError{"bad_request", "\"type\" must be a string"};
  const std::string& t = type->get_ref<const std::string&>();
  if (t == "chat") {
    auto text = j.find("text");
    if (text == j.end() || !text->is_string())
      return ClientError{"bad_request", "\"text\" must be a string"};
    std::string value = text->get<std::string>();
    auto n = countCodePoints(value);
    if (!n) return ClientError{"bad_request", "text is not valid UTF-8"};
    std::size_t first = value.find_first_not_of(" \t\r\n");
    if (*n == 0 || first == std::string::npos) return ClientError{"empty", "nothing to send"};
    if (*n > kMaxTextCodePoints)
      return ClientError{"too_long", "at most " + std::to_string(kMaxTextCodePoints) + " characters"};
    return ChatSend{std::move(value)};
  }
  if (t == "like") {
    auto count = j.find("count");
    if (count == j.end()) return LikeSend{1};
    if (!count->is_number_integer()) return ClientError{"bad_request", "\"count\" must be an integer"};
    auto n = count->get<int64_t>();
    if (n < 1 || n > kMaxLikesPerFrame)
      return ClientError{"bad_request", "\"count\" must be 1.." + std::to_string(kMaxLikesPerFrame)};
    return LikeSend{static_cast<int>(n)};
  }
  return ClientError{"unknown_type", "unknown message type"};
}

std::string errorFrame(std::string_view code, std::string_view message) {
  return nlohmann::json{{"type", "error"}, {"code", code}, {"message", message}}.dump();
}

std::string welcomeFrame(std::string_view user, std::string_view role,
                         const std::vector<std::string>& history, int64_t likes, int64_t viewers) {
  std::string out = R"({"type":"welcome","user":)" + nlohmann::json(user).dump() +
                    R"(,"role":)" + nlohmann::json(role).dump() + R"(,"history":[)";
  for (std::size_t i = 0; i < history.size(); ++i) {
    if (i) out += ',';
    out += history[i];
  }
  out += "],\"likes\":" + std::to_string(likes) + ",\"viewers\":" + std::to_string(viewers) + "}";
  return out;
}

std::string batchFrame(const std::vector<std::string>& messages) {
  if (messages.size() == 1) return messages[0];
  std::size_t total = 32;
  for (const auto& m : messages) total += m.size() + 1;
  std::string out;
  out.reserve(total);
  out = R"({"type":"batch","messages":[)";
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (i) out += ',';
    out += messages[i];
  }
  out += "]}";
  return out;
}

std::vector<std::string> batchFrames(const std::vector<std::string>& messages, std::size_t max_bytes) {
  std::vector<std::string> frames;
  std::vector<std::string> group;
  std::size_t group_bytes = 0;
  for (const auto& m : messages) {
    if (!group.empty() && group_bytes + m.size() + 1 > max_bytes) {
      frames.push_back(batchFrame(group));
      group.clear();
      group_bytes = 0;
    }
    group.push_back(m);
    group_bytes += m.size() + 1;
  }
  if (!group.empty()) frames.push_back(batchFrame(group));
  return frames;
}

std::string messageType(std::string_view json_text) {
  // Fast path for the messages bloomcast itself writes: {"type":"X",...
  constexpr std::string_view prefix = R"({"type":")";
  if (json_text.starts_with(prefix)) {
    auto end = json_text.find('"', prefix.size());
    if (end != std::string_view::npos) return std::string(json_text.substr(prefix.size(), end - prefix.size()));
  }
  nlohmann::json j = nlohmann::json::parse(json_text, nullptr, false);
  if (j.is_object() && j.contains("type") && j["type"].is_string()) return j["type"].get<std::string>();
  return "";
}

}  // namespace bloomcast::chat
