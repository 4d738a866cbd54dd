#include "orders/Sessions.h"

#include <charconv>

namespace bloomcast::orders {
namespace {

std::string deriveSecret(std::string_view admin_token) {
  HmacSha256 kdf(admin_token);
  auto mac = kdf.mac("bloomcast/session/v1");
  return std::string(reinterpret_cast<const char*>(mac.data()), mac.size());
}

// Length in bytes of the UTF-8 sequence starting at s[i], or 0 when it is not valid UTF-8
// (overlong forms, surrogates and code points above U+10FFFF are refused).
std::size_t utf8Length(std::string_view s, std::size_t i, uint32_t& cp) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  std::size_t n;
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  if ((c & 0xe0) == 0xc0) n = 2, cp = c & 0x1f;
  else if ((c & 0xf0) == 0xe0) n = 3, cp = c & 0x0f;
  else if ((c & 0xf8) == 0xf0) n = 4, cp = c & 0x07;
  else return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3f);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

bool isHex16(std::string_view s) {
  if (s.size() != 16) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

Sessions::Sessions(std::string_view admin_token, int64_t max_age_s)
    : hmac_(deriveSecret(admin_token)), max_age_s_(max_age_s) {}

bool Sessions::isValidName(std::string_view name) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < name.size();) {
    uint32_t cp = 0;
    std::size_t n = utf8Length(name, i, cp);
    if (n == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == 0x2028 || cp == 0x2029)
      return false;
    i += n;
    if (++chars > kMaxNameChars) return false;
  }
  return chars > 0;
}

std::string Sessions::maskedName(std::string_view name) {
  uint32_t cp = 0;
  std::size_t n = name.empty() ? 0 : utf8Length(name, 0, cp);
  return std::string(name.substr(0, n)) + "**";
}

std::string Sessions::sign(std::string_view payload) const {
  auto mac = hmac_.mac(payload);
  return base64UrlEncode(std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
}

std::string Sessions::issue(const Session& session) const {
  std::string payload = session.user_id + "." + base64UrlEncode(session.name) + "." +
                        std::to_string(session.issued_s);
  return payload + "." + sign(payload);
}

std::optional<Session> Sessions::verify(std::string_view token, int64_t now_s) const {
  if (token.size() > 256) return std::nullopt;
  auto last_dot = token.rfind('.');
  if (last_dot == std::string_view::npos) return std::nullopt;
  std::string_view payload = token.substr(0, last_dot);
  if (!constantTimeEquals(sign(payload), token.substr(last_dot + 1))) return std::nullopt;

  // The MAC holds, so the payload is ours; parse it all the same.
  auto d1 = payload.find('.');
  auto d2 = payload.find('.', d1 == std::string_view::npos ? d1 : d1 + 1);
  if (d1 == std::string_view::npos || d2 == std::string_view::npos) return std::nullopt;
  Session s;
  s.user_id = std::string(payload.substr(0, d1));
  if (!isHex16(s.user_id)) return std::nullopt;
  if (!base64UrlDecode(payload.substr(d1 + 1, d2 - d1 - 1), s.name) || !isValidName(s.name))
    return std::nullopt;
  std::string_view issued = payload.substr(d2 + 1);
  auto [ptr, ec] = std::from_chars(issued.data(), issued.data() + issued.size(), s.issued_s);
  if (ec != std::errc() || ptr != issued.data() + issued.size()) return std::nullopt;
  if (s.issued_s > now_s + 300 || now_s - s.issued_s > max_age_s_) return std::nullopt;
  return s;
}

}  // namespace bloomcast::orders
