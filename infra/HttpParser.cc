#include "infra/HttpParser.h"

#include <algorithm>
#include <array>

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

bool isTokenChar(char c) { return kTokenChars[static_cast<unsigned char>(c)]; }

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

// Two memchr scans of the line: find_first_of("\r\n") calls memchr on the two-byte set once per
// byte of the line, which was 4% of bloomcast's CPU per order.
bool hasCrOrLf(std::string_view s) {
  return s.find('\r') != std::string_view::npos || s.find('\n') != std::string_view::npos;
}

}  // namespace

std::optional<std::string> percentDecode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      int hi = hexValue(in[i + 1]), lo = hexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    if (c == '\0') return std::nullopt;
    out.push_back(c);
  }
  return out;
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

  auto end = buffered.find("\r\n\r\n");
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
  auto eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  if (hasCrOrLf(line)) return refuse(400, "bare CR or LF");
  auto sp1 = line.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == 0 || sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    return refuse(400, "malformed request line");
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!std::all_of(method.begin(), method.end(), isTokenChar)) return refuse(400, "malformed method");
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
  auto path = percentDecode(target.substr(0, qmark), false);
  if (!path) return refuse(400, "malformed escape in the path");
  h.path = std::move(*path);
  if (qmark != std::string_view::npos && !parseQuery(target.substr(qmark + 1), h.query))
    return refuse(400, "malformed escape in the query");

  // Header fields.
  bool connection_close = false, connection_keep_alive = false, connection_upgrade = false;
  bool upgrade_websocket = false;
  std::size_t fields = 0;
  std::size_t pos = eol + 2;
  while (pos < head.size()) {
    auto next = head.find("\r\n", pos);
    std::string_view field = head.substr(pos, next - pos);
    pos = next + 2;
    // No scan of the line for a stray CR or LF: the name is a token and the value is checked
    // for control characters below, so one would be refused there.
    if (field.empty()) return refuse(400, "empty header line");
    if (field.front() == ' ' || field.front() == '\t') return refuse(400, "folded header lines are not accepted");
    if (++fields > limits.max_fields)
      return refuse(431, "more than " + std::to_string(limits.max_fields) + " header fields");
    auto colon = field.find(':');
    if (colon == 0 || colon == std::string_view::npos) return refuse(400, "malformed header field");
    std::string_view name = field.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), isTokenChar)) return refuse(400, "malformed header name");
    std::string_view value = trim(field.substr(colon + 1));
    for (char c : value) {
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f)
        return refuse(400, c == '\r' || c == '\n' ? "bare CR or LF"
                                                   : "control character in a header value");
    }

    if (equalsIgnoreCase(name, "content-length")) {
      if (h.content_length) return refuse(400, "Content-Length given more than once");
      if (value.empty() || value.size() > 18 ||
          !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return refuse(400, "malformed Content-Length");
      uint64_t n = 0;
      for (char c : value) n = n * 10 + static_cast<uint64_t>(c - '0');
      h.content_length = n;
    } else if (equalsIgnoreCase(name, "transfer-encoding")) {
      h.transfer_encoding = true;
    } else if (equalsIgnoreCase(name, "connection")) {
      connection_close |= listHas(value, "close");
      connection_keep_alive |= listHas(value, "keep-alive");
      connection_upgrade |= listHas(value, "upgrade");
    } else if (equalsIgnoreCase(name, "upgrade")) {
      upgrade_websocket |= listHas(value, "websocket");
    } else if (equalsIgnoreCase(name, "expect")) {
      h.expect_continue |= equalsIgnoreCase(value, "100-continue");
    } else if (equalsIgnoreCase(name, "authorization")) {
      h.authorization.assign(value);
    } else if (equalsIgnoreCase(name, "content-type")) {
      h.content_type.assign(value);
    }
  }
  h.keep_alive = h.minor_version == 1 ? !connection_close : connection_keep_alive && !connection_close;
  h.upgrade_websocket = upgrade_websocket && connection_upgrade;
  return result.kind;
}

}  // namespace bloomcast
