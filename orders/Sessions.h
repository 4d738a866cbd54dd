#pragma once
// Sessions: viewer identities as signed tokens, so that no Redis round trip is needed to know
// who is buying.
//
//   token = UID "." base64url(NAME) "." ISSUED_S "." base64url(HMAC-SHA256(secret, first three))
//
// UID is 16 lowercase hex digits (64 random bits), NAME 1..32 characters of UTF-8 without
// control characters. A token whose MAC does not match (compared in constant time), that does
// not parse, or that is older than max_age_s is refused.
//
// The secret must be the same on every node: it is derived from the admin token (which every
// node of one deployment shares) as HMAC-SHA256(admin_token, "bloomcast/session/v1"). Changing
// the admin token therefore signs every viewer out; viewers simply take a new session. Nothing
// about sessions is stored in Redis, so a Redis dump cannot forge them.
//
// A viewer sends the same token with every order and chat frame, so tokens verified lately are
// remembered (kCacheSlots of them): a token seen again costs a slot lookup and a constant-time
// comparison instead of the HMAC and the parse, ~5% of an order's CPU. Its age is checked on
// every use all the same.
//
// Thread: loop thread (the HMAC state and the cache are reused between calls). Owned by
// OrdersModule.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "infra/Crypto.h"
#include "orders/ViewerName.h"

namespace bloomcast::orders {

struct Session {
  std::string user_id;  // 16 hex digits
  std::string name;
  int64_t issued_s = 0;
  // Set by Sessions::verify*: maskedViewerNameJson(name), the buyer as an order's event shows
  // them. Made once per token verified, not once per order (it was an allocation per order).
  // Not part of the token: issue() ignores it.
  std::string masked_name_json{};
};

class Sessions {
 public:
  static constexpr int64_t kDefaultMaxAgeS = 30 * 24 * 3600;
  // Tokens remembered: a flash sale brings thousands of buyers to a node at once, and a
  // direct-mapped table much fuller than ~1/8 checks many of them anew (two tokens in one slot
  // evict each other). 128 KiB of slots when first used, ~10 MiB when all hold a token.
  static constexpr std::size_t kCacheSlots = 32768;

  explicit Sessions(std::string_view admin_token, int64_t max_age_s = kDefaultMaxAgeS);

  // A new session for `name` (already validated with isValidViewerName) issued at now_s.
  std::string issue(const Session& session) const;
  // The session a token names, if its signature holds and it has not aged out at now_s.
  std::optional<Session> verify(std::string_view token, int64_t now_s) const;
  // The same, without a copy: the session as this object remembers it, valid until its next
  // verify or verifyRemembered (the order path reads it at once; a copy was an allocation).
  const Session* verifyRemembered(std::string_view token, int64_t now_s) const;

 private:
  std::string sign(std::string_view payload) const;
  void signInto(std::string_view payload, std::string& out) const;  // appends
  std::optional<Session> verifyAnew(std::string_view token) const;
  bool fresh(int64_t issued_s, int64_t now_s) const;

  // A direct-mapped table indexed by a hash of the token. Each slot keeps the whole token, so a
  // colliding token (crafted or not) only evicts the one there: it never passes for it.
  struct Verified {
    std::string token;
    Session session;
  };

  HmacSha256 hmac_;
  mutable std::string signature_;  // verify()'s scratch
  // The slots hold 4-byte indexes into verified_, which grows by one entry each time a slot is
  // first used: the tokens of a sale's buyers lie together, whatever slots they hash to. A table
  // of whole entries spread them over 3.4 MiB, and the slot's load was a TLB and cache miss on
  // nearly every order (2% of its CPU in perf).
  mutable std::vector<uint32_t> slots_;     // kCacheSlots; 0: empty, else 1 + index in verified_
  mutable std::vector<Verified> verified_;
  int64_t max_age_s_;
};

}  // namespace bloomcast::orders
