#include "orders/ViewerName.h"

#include <cstdint>

namespace bloomcast::orders {
namespace {

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

}  // namespace

bool isValidViewerName(std::string_view name) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < name.size();) {
    uint32_t cp = 0;
    std::size_t n = utf8Length(name, i, cp);
    if (n == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == 0x2028 || cp == 0x2029)
      return false;
    i += n;
    if (++chars > kMaxViewerNameChars) return false;
  }
  return chars > 0;
}

std::string maskedViewerName(std::string_view name) {
  uint32_t cp = 0;
  std::size_t n = name.empty() ? 0 : utf8Length(name, 0, cp);
  return std::string(name.substr(0, n)) + "**";
}

std::string maskedViewerNameJson(std::string_view name) {
  uint32_t cp = 0;
  std::size_t n = name.empty() ? 0 : utf8Length(name, 0, cp);
  std::string out = "\"";
  for (unsigned char c : name.substr(0, n)) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {  // not in a valid name; escaped all the same
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  out += "**\"";
  return out;
}

}  // namespace bloomcast::orders
