#include "infra/Crypto.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace bloomcast {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string hex(const unsigned char* p, std::size_t n) {
  std::string out(n * 2, '\0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[p[i] >> 4];
    out[2 * i + 1] = kHex[p[i] & 15];
  }
  return out;
}

// The value of each base64url character, -1 for any other byte.
constexpr std::array<int8_t, 256> kB64Values = [] {
  std::array<int8_t, 256> values{};
  values.fill(-1);
  for (int i = 0; i < 64; ++i) values[static_cast<unsigned char>(kB64[i])] = static_cast<int8_t>(i);
  return values;
}();

int b64Value(unsigned char c) { return kB64Values[c]; }

}  // namespace

std::string randomHex(std::size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  // RAND_bytes fails only when the CSPRNG cannot be seeded; a token from a broken generator
  // would be guessable, so that is fatal rather than an error to pass on.
  if (RAND_bytes(buf.data(), static_cast<int>(buf.size())) != 1) std::abort();
  return hex(buf.data(), buf.size());
}

std::string sha256Hex(std::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return hex(digest, sizeof digest);
}

bool constantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// Both write in place into storage sized once (resize_and_overwrite): appending a character at
// a time was most of a session check's own cost. The callbacks return the size themselves (see
// appendResp in RedisClient.cc for why the size libstdc++ 12 passes is not used).
void base64UrlEncode(std::string_view bytes, std::string& out) {
  std::size_t start = out.size();
  std::size_t length = (bytes.size() * 4 + 2) / 3;  // no padding
  out.resize_and_overwrite(start + length, [&](char* data, std::size_t) {
    char* p = data + start;
    auto at = [&](std::size_t k) {
      return static_cast<uint32_t>(static_cast<unsigned char>(bytes[k]));
    };
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
      uint32_t v = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
      *p++ = kB64[(v >> 18) & 63];
      *p++ = kB64[(v >> 12) & 63];
      *p++ = kB64[(v >> 6) & 63];
      *p++ = kB64[v & 63];
    }
    std::size_t rest = bytes.size() - i;
    if (rest > 0) {
      uint32_t v = (at(i) << 16) | (rest == 2 ? at(i + 1) << 8 : 0);
      *p++ = kB64[(v >> 18) & 63];
      *p++ = kB64[(v >> 12) & 63];
      if (rest == 2) *p++ = kB64[(v >> 6) & 63];
    }
    return start + length;
  });
}

std::string base64UrlEncode(std::string_view bytes) {
  std::string out;
  base64UrlEncode(bytes, out);
  return out;
}

bool base64UrlDecode(std::string_view text, std::string& out) {
  out.clear();
  if (text.size() % 4 == 1) return false;
  bool ok = true;
  out.resize_and_overwrite(text.size() * 3 / 4, [&](char* data, std::size_t) {
    char* p = data;
    uint32_t acc = 0;
    int bits = 0;
    for (unsigned char c : text) {
      int v = b64Value(c);
      if (v < 0) {
        ok = false;
        return std::size_t{0};
      }
      acc = (acc << 6) | static_cast<uint32_t>(v);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        *p++ = static_cast<char>((acc >> bits) & 0xff);
      }
    }
    // Leftover bits must be zero, so that each byte string has exactly one encoding.
    ok = (acc & ((1u << bits) - 1)) == 0;
    return static_cast<std::size_t>(p - data);
  });
  return ok;
}

// The pads' states are kept as plain SHA256_CTX values, copied by assignment: OpenSSL 3's EVP
// digest contexts can be copied only through EVP_MD_CTX_copy_ex, which allocates (and on
// release cleanses and frees) a provider context each time — two allocations and most of the
// cost of a MAC per session check, i.e. per order. SHA256_Init/Update/Final are deprecated in
// OpenSSL 3 in favour of EVP but remain in its API and run the same assembly.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
HmacSha256::HmacSha256(std::string_view key) {
  unsigned char block[64] = {0};
  if (key.size() > sizeof block) {
    SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), block);
  } else {
    std::memcpy(block, key.data(), key.size());
  }
  unsigned char ipad[64], opad[64];
  for (int i = 0; i < 64; ++i) {
    ipad[i] = block[i] ^ 0x36;
    opad[i] = block[i] ^ 0x5c;
  }
  if (SHA256_Init(&inner_) != 1 || SHA256_Update(&inner_, ipad, sizeof ipad) != 1 ||
      SHA256_Init(&outer_) != 1 || SHA256_Update(&outer_, opad, sizeof opad) != 1)
    std::abort();  // a broken libcrypto: nothing sensible to do
  OPENSSL_cleanse(block, sizeof block);
  OPENSSL_cleanse(ipad, sizeof ipad);
  OPENSSL_cleanse(opad, sizeof opad);
}

HmacSha256::~HmacSha256() {
  OPENSSL_cleanse(&inner_, sizeof inner_);
  OPENSSL_cleanse(&outer_, sizeof outer_);
}

std::array<unsigned char, 32> HmacSha256::mac(std::string_view message) const {
  std::array<unsigned char, 32> inner_digest{}, out{};
  SHA256_CTX work = inner_;
  if (SHA256_Update(&work, message.data(), message.size()) != 1 ||
      SHA256_Final(inner_digest.data(), &work) != 1)
    std::abort();
  work = outer_;
  if (SHA256_Update(&work, inner_digest.data(), inner_digest.size()) != 1 ||
      SHA256_Final(out.data(), &work) != 1)
    std::abort();
  OPENSSL_cleanse(&work, sizeof work);
  return out;
}
#pragma GCC diagnostic pop

}  // namespace bloomcast
