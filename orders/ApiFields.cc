#include "orders/ApiFields.h"

namespace bloomcast::orders::api {

std::expected<nlohmann::json, Error> parseObject(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::unexpected(Error{"bad_json", "the body is not valid JSON"});
  if (!j.is_object()) return std::unexpected(Error{"bad_json", "the body must be a JSON object"});
  return j;
}

std::expected<std::optional<std::string>, Error> stringField(const nlohmann::json& j,
                                                             const char* name, bool required,
                                                             std::size_t max_bytes) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) {
    if (required) return std::unexpected(Error{"invalid_argument", std::string(name) + " is required"});
    return std::nullopt;
  }
  if (!it->is_string())
    return std::unexpected(Error{"invalid_argument", std::string(name) + " must be a string"});
  const auto& s = it->get_ref<const std::string&>();
  if (s.empty() || s.size() > max_bytes)
    return std::unexpected(Error{"invalid_argument", std::string(name) + " must be 1.." +
                                                         std::to_string(max_bytes) + " bytes"});
  return s;
}

std::expected<std::optional<int64_t>, Error> intField(const nlohmann::json& j, const char* name,
                                                      bool required, int64_t min, int64_t max) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) {
    if (required) return std::unexpected(Error{"invalid_argument", std::string(name) + " is required"});
    return std::nullopt;
  }
  auto bad = [&] {
    return std::unexpected(Error{"invalid_argument", std::string(name) + " must be an integer in " +
                                                         std::to_string(min) + ".." + std::to_string(max)});
  };
  if (it->is_number_unsigned()) {
    auto v = it->get<uint64_t>();
    if (v > static_cast<uint64_t>(max) || static_cast<int64_t>(v) < min) return bad();
    return static_cast<int64_t>(v);
  }
  if (!it->is_number_integer()) return bad();
  auto v = it->get<int64_t>();
  if (v < min || v > max) return bad();
  return v;
}

bool isValidSku(std::string_view sku) {
  if (sku.empty() || sku.size() > 64) return false;
  for (char c : sku)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '.' || c == '-'))
      return false;
  return true;
}

bool isValidIdempotencyKey(std::string_view key) {
  if (key.empty() || key.size() > 64) return false;
  for (char c : key)
    if (c < 0x21 || c > 0x7e) return false;
  return true;
}

bool isPlainText(std::string_view text) {
  for (unsigned char c : text)
    if (c < 0x20 || c == 0x7f) return false;
  return true;
}

bool isValidImageUrl(std::string_view url) {
  if (!(url.starts_with("https://") || url.starts_with("http://") ||
        (url.starts_with("/") && !url.starts_with("//"))))
    return false;
  for (unsigned char c : url)
    if (c <= 0x20 || c == 0x7f || c == '"' || c == '\'' || c == '<' || c == '>' || c == '\\')
      return false;
  return true;
}

}  // namespace bloomcast::orders::api
