#pragma once
// Crypto: the few primitives bloomcast needs for secrets — random tokens, SHA-256 of a
// secret (what Redis stores instead of the secret), constant-time comparison, and HMAC-SHA256
// with a key fixed at construction (session tokens).
//
// Thread: free functions are thread-safe; an HmacSha256 is used by one thread at a time (the
// loop thread). Owned by whoever signs (Sessions).
#include <openssl/sha.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace bloomcast {

// `bytes` random bytes from the OpenSSL CSPRNG, as 2*bytes lowercase hex digits.
std::string randomHex(std::size_t bytes);

// Lowercase hex of SHA-256(text): 64 characters.
std::string sha256Hex(std::string_view text);

// True when a == b, in time that depends only on the lengths (CRYPTO_memcmp).
bool constantTimeEquals(std::string_view a, std::string_view b);

// base64url without padding (RFC 4648 section 5) and back; decode fails on any other byte.
std::string base64UrlEncode(std::string_view bytes);
void base64UrlEncode(std::string_view bytes, std::string& out);  // appends to `out`
bool base64UrlDecode(std::string_view text, std::string& out);

// HMAC-SHA256 (RFC 2104) with the key absorbed once: the inner and outer pads are kept as
// digest states, so each MAC costs two state copies (plain assignments, no allocation) and two
// short hashes.
class HmacSha256 {
 public:
  explicit HmacSha256(std::string_view key);
  ~HmacSha256();
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;

  std::array<unsigned char, 32> mac(std::string_view message) const;

 private:
  SHA256_CTX inner_;  // SHA-256 state after absorbing key ^ ipad
  SHA256_CTX outer_;  // ... key ^ opad
};

}  // namespace bloomcast
