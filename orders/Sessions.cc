#include "orders/Sessions.h"

#include <bit>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <functional>

namespace bloomcast::orders {
namespace {

std::string deriveSecret(std::string_view admin_token) {
  HmacSha256 kdf(admin_token);
  auto mac = kdf.mac("bloomcast/session/v1");
  return std::string(reinterpret_cast<const char*>(mac.data()), mac.size());
}

bool isHex16(std::string_view s) {
  if (s.size() != 16) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// A token ends in its MAC: HMAC-SHA-256's 32 bytes in unpadded base64url.
constexpr std::size_t kMacChars = 43;

// Whether `token` is the remembered `cached` one. Only the MAC is secret, so only it is compared
// in constant time; the payload before it is compared only when the MACs are equal, and then its
// timing tells nothing that the holder of that MAC does not already have.
bool sameToken(std::string_view cached, std::string_view token) {
  if (cached.size() != token.size() || token.size() < kMacChars) return false;
  std::size_t mac_at = token.size() - kMacChars;
  return constantTimeEquals(cached.substr(mac_at), token.substr(mac_at)) &&
         cached.substr(0, mac_at) == token.substr(0, mac_at);
}

// The cache slot of a token: from the last 8 characters of its MAC (48 bits of base64url), which
// spread tokens as well as a hash of the whole token did and cost ~10 instructions instead of
// ~230. Neither is keyed: a client can aim junk tokens at a slot either way, which evicts the
// token there (its next use is checked anew), never passes for it.
std::size_t slotOf(std::string_view token) {
  static_assert(std::has_single_bit(Sessions::kCacheSlots));
  if (token.size() < 8) return 0;
  uint64_t tail;
  std::memcpy(&tail, token.data() + token.size() - 8, sizeof tail);
  return static_cast<std::size_t>((tail * 0x9e3779b97f4a7c15ULL) >> (64 - std::countr_zero(Sessions::kCacheSlots)));
}

}  // namespace

Sessions::Sessions(std::string_view admin_token, int64_t max_age_s)
    : hmac_(deriveSecret(admin_token)), max_age_s_(max_age_s) {}

std::string Sessions::sign(std::string_view payload) const {
  std::string out;
  signInto(payload, out);
  return out;
}

void Sessions::signInto(std::string_view payload, std::string& out) const {
  auto mac = hmac_.mac(payload);
  base64UrlEncode(std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()), out);
}

std::string Sessions::issue(const Session& session) const {
  std::string payload = session.user_id + "." + base64UrlEncode(session.name) + "." +
                        std::to_string(session.issued_s);
  return payload + "." + sign(payload);
}

std::optional<Session> Sessions::verify(std::string_view token, int64_t now_s) const {
  const Session* s = verifyRemembered(token, now_s);
  if (!s) return std::nullopt;
  return *s;
}

const Session* Sessions::verifyRemembered(std::string_view token, int64_t now_s) const {
  if (token.empty() || token.size() > 256) return nullptr;
  if (slots_.empty()) slots_.assign(kCacheSlots, 0);
  uint32_t& slot = slots_[slotOf(token)];
  if (slot != 0) {
    const Verified& entry = verified_[slot - 1];
    if (sameToken(entry.token, token)) return fresh(entry.session.issued_s, now_s) ? &entry.session : nullptr;
  }
  auto session = verifyAnew(token);
  if (!session || !fresh(session->issued_s, now_s)) return nullptr;
  if (slot == 0) {
    verified_.emplace_back();
    slot = static_cast<uint32_t>(verified_.size());
  }
  Verified& entry = verified_[slot - 1];
  entry.token.assign(token);
  entry.session = std::move(*session);
  return &entry.session;
}

bool Sessions::fresh(int64_t issued_s, int64_t now_s) const {
  return issued_s <= now_s + 300 && now_s - issued_s <= max_age_s_;
}

// The MAC and the parse, without the age.
std::optional<Session> Sessions::verifyAnew(std::string_view token) const {
  auto last_dot = token.rfind('.');
  if (last_dot == std::string_view::npos) return std::nullopt;
  std::string_view payload = token.substr(0, last_dot);
  // Into a buffer kept across calls: no allocation per order.
  signature_.clear();
  signInto(payload, signature_);
  if (!constantTimeEquals(signature_, token.substr(last_dot + 1))) return std::nullopt;

  // The MAC holds, so the payload is ours; parse it all the same.
  auto d1 = payload.find('.');
  auto d2 = payload.find('.', d1 == std::string_view::npos ? d1 : d1 + 1);
  if (d1 == std::string_view::npos || d2 == std::string_view::npos) return std::nullopt;
  Session s;
  s.user_id = std::string(payload.substr(0, d1));
  if (!isHex16(s.user_id)) return std::nullopt;
  if (!base64UrlDecode(payload.substr(d1 + 1, d2 - d1 - 1), s.name) || !isValidViewerName(s.name))
    return std::nullopt;
  std::string_view issued = payload.substr(d2 + 1);
  auto [ptr, ec] = std::from_chars(issued.data(), issued.data() + issued.size(), s.issued_s);
  if (ec != std::errc() || ptr != issued.data() + issued.size()) return std::nullopt;
  s.masked_name_json = maskedViewerNameJson(s.name);
  return s;
}

}  // namespace bloomcast::orders
