// Fuzz target: viewer session tokens (orders/Sessions.h) and the base64url they are written in
// (infra/Crypto.h): a client sends a token with every order. Beyond "no crash":
//   - base64UrlDecode accepts only the one encoding of each byte string: what it decodes
//     encodes back to the input; and the encoding of the input decodes back to it
//   - the input as a token: verify accepts it only with a session that is well-formed (a
//     mutated seed token whose MAC still holds; the fuzzer cannot forge one)
//   - the input as the payload of a token signed with the target's key: when verify accepts it,
//     the session is well-formed and issue() of it verifies to the same session; with one
//     character of its MAC changed, the same token is refused
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "infra/Crypto.h"
#include "orders/Sessions.h"
#include "orders/ViewerName.h"

using namespace bloomcast;
using namespace bloomcast::orders;

namespace {

constexpr std::string_view kAdminToken = "fuzz-admin-token";
constexpr int64_t kNowS = 1'790'000'000;

void check(bool ok) {
  if (!ok) std::abort();
}

void checkSession(const Session& s) {
  check(s.user_id.size() == 16);
  for (char c : s.user_id) check((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  check(isValidViewerName(s.name));
  check(s.issued_s <= kNowS + 300 && kNowS - s.issued_s <= Sessions::kDefaultMaxAgeS);
  check(s.masked_name_json == maskedViewerNameJson(s.name));
}

bool sameSession(const Session& a, const Session& b) {
  return a.user_id == b.user_id && a.name == b.name && a.issued_s == b.issued_s;
}

// The token Sessions would give for `payload`: signed as Sessions signs (its key derived from
// the admin token).
std::string signedToken(std::string_view payload) {
  HmacSha256 kdf(kAdminToken);
  auto secret = kdf.mac("bloomcast/session/v1");
  HmacSha256 signer(std::string_view(reinterpret_cast<const char*>(secret.data()), secret.size()));
  auto mac = signer.mac(payload);
  std::string token(payload);
  token += '.';
  base64UrlEncode(std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()), token);
  return token;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);

  std::string decoded;
  if (base64UrlDecode(input, decoded)) check(base64UrlEncode(decoded) == input);
  std::string back;
  check(base64UrlDecode(base64UrlEncode(input), back) && back == input);

  static const Sessions sessions(kAdminToken);
  if (auto s = sessions.verify(input, kNowS)) checkSession(*s);

  std::string token = signedToken(input);
  auto s = sessions.verify(token, kNowS);
  if (!s) return 0;
  checkSession(*s);
  auto again = sessions.verify(sessions.issue(*s), kNowS);
  check(again && sameSession(*again, *s));
  token.back() = token.back() == 'A' ? 'B' : 'A';
  check(!sessions.verify(token, kNowS));
  return 0;
}
