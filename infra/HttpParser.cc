#include "infra/HttpParser.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#include "infra/Bytes16.h"

namespace bloomcast {
namespace {

// RFC 9110 tchar, as a table: every byte of every header name goes through it.
constexpr std::array<bool, 256> kTokenChars = [] {
  std::array<bool, 256> table{};
  for (int c = 'a'; c <= 'z'; ++c) table[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) table[c] = true;
  for (int c = '0'; c <= '9'; ++c) table[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) table[static_cast<unsigned char>(c)] = true;
  return table;
}();

// Whole names at once, so that the table lookup inlines (std::all_of over a function pointer
// made an indirect call per byte).
bool isToken(std::string_view s) {
  for (char c : s)
    if (!kTokenChars[static_cast<unsigned char>(c)]) return false;
  return true;
}

// Control characters other than HTAB, and DEL: refused in header values. Sixteen bytes at a
// time (bytes16::findFirst, which reads past the value up to `readable_end`): a byte at a time,
// the Authorization value alone took ~400 instructions of every order.
bool hasControlChar(std::string_view s, const char* readable_end) {
  const char* end = s.data() + s.size();
  return bytes16::findFirst(s.data(), end, readable_end, [](bytes16::Bytes v) {
           return ((v < 0x20) & (v != '\t')) | (v == 0x7f);
         }) != end;
}

bool hasControlChar(std::string_view s) { return hasControlChar(s, s.data() + s.size()); }

// `name` equals `lower_name`, which holds only lower-case letters and '-', but for the case of
// its letters: OR 0x20 lower-cases a letter, and a byte that becomes a lower-case letter by it
// is that letter in either case; a '-' must be one. So a name that matches is a token. Eight
// bytes at a time from 8 on (a byte at a time was a third of the head's parse), the last word
// ending at the name's end: in each word, the bytes of `lower_name` that are '-' get no 0x20,
// found with the zero-byte test of Hacker's Delight 6-1 on the word XOR "--------", which marks
// exactly the bytes that are zero.
bool equalsLowerName(std::string_view name, std::string_view lower_name) {
  if (name.size() != lower_name.size()) return false;
  std::size_t n = name.size();
  if (n < 8) {
    unsigned char diff = 0;
    for (std::size_t i = 0; i < n; ++i) {
      unsigned char fold = lower_name[i] == '-' ? 0 : 0x20;
      diff |= static_cast<unsigned char>((static_cast<unsigned char>(name[i]) | fold) ^ static_cast<unsigned char>(lower_name[i]));
    }
    return diff == 0;
  }
  auto wordDiff = [](const char* x_at, const char* l_at) {
    constexpr uint64_t kOnes7f = 0x7f7f7f7f7f7f7f7fULL, kDashes = 0x2d2d2d2d2d2d2d2dULL;
    uint64_t x, l;
    std::memcpy(&x, x_at, sizeof x);
    std::memcpy(&l, l_at, sizeof l);
    uint64_t t = l ^ kDashes;
    uint64_t dash = ~(((t & kOnes7f) + kOnes7f) | t | kOnes7f);  // 0x80 in each byte that is '-'
    uint64_t fold = 0x2020202020202020ULL & ~(dash >> 2);
    return (x | fold) ^ l;
  };
  uint64_t diff = wordDiff(name.data() + n - 8, lower_name.data() + n - 8);
  for (std::size_t i = 0; i + 8 < n; i += 8) diff |= wordDiff(name.data() + i, lower_name.data() + i);
  return diff == 0;
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// True when the comma-separated list `value` holds `token` (case-insensitive).
bool listHas(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    auto comma = value.find(',');
    std::string_view item = trim(value.substr(0, comma));
    if (equalsIgnoreCase(item, token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// RFC 9112 HTTP-version: "HTTP/" DIGIT "." DIGIT. A well-formed version other than 1.0 and 1.1
// is 505; anything else is a malformed request line (400).
bool isHttpVersion(std::string_view v) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  return v.size() == 8 && v.starts_with("HTTP/") && digit(v[5]) && v[6] == '.' && digit(v[7]);
}

HttpHeadResult::Kind invalid(HttpHeadResult& r, int status, std::string message) {
  r.kind = HttpHeadResult::Kind::Invalid;
  r.error = {status, std::move(message)};
  return r.kind;
}

bool parseQuery(std::string_view q, std::map<std::string, std::string>& out) {
  while (!q.empty()) {
    auto amp = q.find('&');
    std::string_view kv = q.substr(0, amp);
    if (!kv.empty()) {
      auto eq = kv.find('=');
      auto name = percentDecode(kv.substr(0, eq), true);
      auto value = eq == std::string_view::npos ? std::optional<std::string>("")
                                                : percentDecode(kv.substr(eq + 1), true);
      if (!name || !value) return false;
      out[std::move(*name)] = std::move(*value);
    }
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return true;
}

// One scan of the line: find_first_of("\r\n") calls memchr on the two-byte set once per byte of
// the line, which was 4% of bloomcast's CPU per order.
bool hasCrOrLf(std::string_view s, const char* readable_end) {
  const char* end = s.data() + s.size();
  return bytes16::findFirst(s.data(), end, readable_end,
                            [](bytes16::Bytes v) { return (v == '\r') | (v == '\n'); }) != end;
}

// The lines of a request head, found in one pass, 16 bytes at a time: string_view::find of
// "\r\n\r\n" and then of "\r\n" per line called memchr once per CR, twice over, and an order's
// head has seven lines.
struct HeadLines {
  static constexpr std::size_t kKept = 24;  // CRLFs remembered; a head with more finds the rest anew
  std::size_t head_end = std::string_view::npos;  // offset of the CRLF CRLF that ends the head
  std::size_t kept = 0;
  uint32_t crlf[kKept];  // offsets of the head's first CRLFs, in order (the blank line's too)
};

// The first CRLF at or after `p` in [p, end), or end.
const char* findCrLf(const char* p, const char* end) {
  for (;;) {
    p = bytes16::findFirst(p, end, end, [](bytes16::Bytes v) { return v == '\r'; });
    if (p == end || (end - p >= 2 && p[1] == '\n')) return p;
    ++p;
  }
}

void findHeadLines(std::string_view buffered, HeadLines& lines) {
  const char* b = buffered.data();
  std::size_t n = buffered.size();
  for (std::size_t base = 0; base < n; base += 16) {
    bytes16::Bytes v{};
    if (n - base >= 16) v = bytes16::load(b + base);
    else std::memcpy(&v, b + base, n - base);  // the lanes past the end stay 0, never a CR
    for (unsigned m = bytes16::bits(v == '\r'); m != 0; m &= m - 1) {
      std::size_t i = base + static_cast<unsigned>(std::countr_zero(m));
      if (i + 1 >= n || b[i + 1] != '\n') continue;  // a bare CR: inside a line, refused there
      if (lines.kept < HeadLines::kKept) lines.crlf[lines.kept++] = static_cast<uint32_t>(i);
      if (i + 3 < n && b[i + 2] == '\r' && b[i + 3] == '\n') {
        lines.head_end = i;
        if (lines.kept < HeadLines::kKept) lines.crlf[lines.kept++] = static_cast<uint32_t>(i + 2);
        return;
      }
    }
  }
}

}  // namespace

std::optional<std::string> percentDecode(std::string_view in, bool plus_is_space) {
  std::string out;
  if (!percentDecodeInto(in, plus_is_space, out)) return std::nullopt;
  return out;
}

bool percentDecodeInto(std::string_view in, bool plus_is_space, std::string& out) {
  out.clear();
  // Most paths have nothing to decode: one copy instead of a byte at a time.
  if (in.find('%') == std::string_view::npos &&
      (!plus_is_space || in.find('+') == std::string_view::npos)) {
    if (in.find('\0') != std::string_view::npos) return false;
    out.assign(in);
    return true;
  }
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = hexValue(in[i + 1]), lo = hexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    if (c == '\0') return false;
    out.push_back(c);
  }
  return true;
}

HttpHeadResult parseRequestHead(std::string_view buffered, const HttpHeadLimits& limits) {
  HttpHeadResult result;
  parseRequestHead(buffered, limits, result);
  return result;
}

HttpHeadResult::Kind parseRequestHead(std::string_view buffered, const HttpHeadLimits& limits,
                                      HttpHeadResult& result) {
  result.kind = HttpHeadResult::Kind::Incomplete;
  result.consumed = 0;
  HttpRequestHead& h = result.head;
  h.reset();
  result.error = {};
  auto refuse = [&result](int status, std::string message) {
    return invalid(result, status, std::move(message));
  };

  const char* readable_end = buffered.data() + buffered.size();
  HeadLines lines;
  findHeadLines(buffered, lines);
  std::size_t end = lines.head_end;
  if (end == std::string_view::npos) {
    // Refuse early what can never become a valid head: too long, or a stray LF already seen
    // (a client ending lines in bare LF would otherwise wait for the timeout).
    std::string_view seen = buffered.substr(0, std::min(buffered.size(), limits.max_head_bytes + 1));
    for (std::size_t i = 0; i < seen.size(); ++i)
      if (seen[i] == '\n' && (i == 0 || seen[i - 1] != '\r'))
        return refuse(400, "request lines must end in CRLF");
    if (buffered.size() > limits.max_head_bytes)
      return refuse(431, "request head over " + std::to_string(limits.max_head_bytes) + " bytes");
    return result.kind;
  }
  if (end + 4 > limits.max_head_bytes)
    return refuse(431, "request head over " + std::to_string(limits.max_head_bytes) + " bytes");
  std::string_view head = buffered.substr(0, end + 2);  // every line with its CRLF

  result.kind = HttpHeadResult::Kind::Complete;
  result.consumed = end + 4;

  // Request line: METHOD SP target SP HTTP/1.x
  // The CRLF ending line `k` (0: the request line), each with its CRLF in `head`.
  auto lineEnd = [&](std::size_t k, std::size_t from) -> std::size_t {
    if (k < lines.kept) return lines.crlf[k];
    return static_cast<std::size_t>(findCrLf(head.data() + from, head.data() + head.size()) - head.data());
  };
  std::size_t eol = lineEnd(0, 0);
  std::string_view line = head.substr(0, eol);
  if (hasCrOrLf(line, readable_end)) return refuse(400, "bare CR or LF");
  auto sp1 = line.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == 0 || sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    return refuse(400, "malformed request line");
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!isToken(method)) return refuse(400, "malformed method");
  if (version == "HTTP/1.1") h.minor_version = 1;
  else if (version == "HTTP/1.0") h.minor_version = 0;
  else if (isHttpVersion(version)) return refuse(505, "only HTTP/1.0 and HTTP/1.1 are spoken here");
  else return refuse(400, "malformed request line");
  if (target.empty() || target.front() != '/') return refuse(400, "the target must be an absolute path");
  for (char c : target)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return refuse(400, "control character in the target");
  if (target.find('#') != std::string_view::npos) return refuse(400, "fragment in the target");
  h.method.assign(method);
  auto qmark = target.find('?');
  if (!percentDecodeInto(target.substr(0, qmark), false, h.path))
    return refuse(400, "malformed escape in the path");
  if (qmark != std::string_view::npos && !parseQuery(target.substr(qmark + 1), h.query))
    return refuse(400, "malformed escape in the query");

  // Header fields.
  bool connection_close = false, connection_keep_alive = false, connection_upgrade = false;
  bool upgrade_websocket = false;
  std::size_t fields = 0;
  std::size_t pos = eol + 2;
  while (pos < head.size()) {
    std::size_t next = lineEnd(fields + 1, pos);
    std::string_view field = head.substr(pos, next - pos);
    pos = next + 2;
    // No scan of the line for a stray CR or LF: the name is a token and the value is checked
    // for control characters below, so one would be refused there.
    if (field.empty()) return refuse(400, "empty header line");
    if (field.front() == ' ' || field.front() == '\t') return refuse(400, "folded header lines are not accepted");
    if (++fields > limits.max_fields)
      return refuse(431, "more than " + std::to_string(limits.max_fields) + " header fields");
    const char* field_end = field.data() + field.size();
    const char* colon_at = bytes16::findFirst(field.data(), field_end, readable_end,
                                              [](bytes16::Bytes v) { return v == ':'; });
    if (colon_at == field.data() || colon_at == field_end) return refuse(400, "malformed header field");
    auto colon = static_cast<std::size_t>(colon_at - field.data());
    std::string_view name = field.substr(0, colon);

    // The names this parser acts on differ in length: one comparison per field at most. A name
    // that is one of them is a token; any other is checked for being one.
    enum class Known {
      ContentLength, TransferEncoding, Connection, Upgrade, Expect, Authorization, ContentType, ForwardedFor,
      Other
    };
    Known known = Known::Other;
    std::string_view known_name;
    switch (name.size()) {
      case 6: known = Known::Expect, known_name = "expect"; break;
      case 7: known = Known::Upgrade, known_name = "upgrade"; break;
      case 10: known = Known::Connection, known_name = "connection"; break;
      case 12: known = Known::ContentType, known_name = "content-type"; break;
      case 13: known = Known::Authorization, known_name = "authorization"; break;
      case 14: known = Known::ContentLength, known_name = "content-length"; break;
      case 15: known = Known::ForwardedFor, known_name = "x-forwarded-for"; break;
      case 17: known = Known::TransferEncoding, known_name = "transfer-encoding"; break;
      default: break;
    }
    if (known != Known::Other && !equalsLowerName(name, known_name)) known = Known::Other;
    if (known == Known::Other && !isToken(name)) return refuse(400, "malformed header name");
    std::string_view value = trim(field.substr(colon + 1));
    if (hasControlChar(value, buffered.data() + buffered.size())) {
      char first = *std::find_if(value.begin(), value.end(), [](char c) { return hasControlChar({&c, 1}); });
      return refuse(400, first == '\r' || first == '\n' ? "bare CR or LF"
                                                        : "control character in a header value");
    }
    switch (known) {
      case Known::Other: break;
      case Known::ContentLength: {
        if (h.content_length) return refuse(400, "Content-Length given more than once");
        if (value.empty() || value.size() > 18 ||
            !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
          return refuse(400, "malformed Content-Length");
        uint64_t n = 0;
        for (char c : value) n = n * 10 + static_cast<uint64_t>(c - '0');
        h.content_length = n;
        break;
      }
      case Known::TransferEncoding: h.transfer_encoding = true; break;
      case Known::Connection:
        connection_close |= listHas(value, "close");
        connection_keep_alive |= listHas(value, "keep-alive");
        connection_upgrade |= listHas(value, "upgrade");
        break;
      case Known::Upgrade: upgrade_websocket |= listHas(value, "websocket"); break;
      case Known::Expect: h.expect_continue |= equalsIgnoreCase(value, "100-continue"); break;
      case Known::Authorization: h.authorization.assign(value); break;
      case Known::ContentType: h.content_type.assign(value); break;
      case Known::ForwardedFor:
        // Several fields are one list (RFC 9110 5.3), in the order they came.
        if (!h.forwarded_for.empty()) h.forwarded_for.push_back(',');
        h.forwarded_for.append(value);
        break;
    }
  }
  h.keep_alive = h.minor_version == 1 ? !connection_close : connection_keep_alive && !connection_close;
  h.upgrade_websocket = upgrade_websocket && connection_upgrade;
  return result.kind;
}

}  // namespace bloomcast
