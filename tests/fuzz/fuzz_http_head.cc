// Fuzz target: the head of an HTTP/1.1 request through parseRequestHead (infra/HttpParser.h),
// once with the default limits and once with small ones (so that the 431 refusals are reached
// by short inputs). Beyond "no crash":
//   - Complete: the head ends at the first CRLFCRLF of the input, within the limit, holds no bare
//     CR or LF; the method is a token, the path starts with '/', nothing decoded holds a NUL;
//     its strict prefixes are Incomplete and the head alone parses to the same result
//   - Invalid: status 400, 431 or 505 with a message
//   - Incomplete: no CRLFCRLF yet and no more than max_head_bytes
//   - the same input parses to the same result twice, and the same into a result that held
//     another head
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "infra/HttpParser.h"

using namespace bloomcast;

namespace {

using Kind = HttpHeadResult::Kind;

void check(bool ok) {
  if (!ok) std::abort();
}

bool isTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool sameHead(const HttpRequestHead& a, const HttpRequestHead& b) {
  return a.method == b.method && a.path == b.path && a.query == b.query &&
         a.minor_version == b.minor_version && a.keep_alive == b.keep_alive &&
         a.content_length == b.content_length && a.transfer_encoding == b.transfer_encoding &&
         a.expect_continue == b.expect_continue && a.upgrade_websocket == b.upgrade_websocket &&
         a.authorization == b.authorization && a.content_type == b.content_type &&
         a.forwarded_for == b.forwarded_for;
}

bool sameResult(const HttpHeadResult& a, const HttpHeadResult& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Kind::Incomplete: return true;
    case Kind::Complete: return a.consumed == b.consumed && sameHead(a.head, b.head);
    case Kind::Invalid: return a.error.status == b.error.status && a.error.message == b.error.message;
  }
  return false;
}

// A header value the server may copy into a log or an answer: no line break, no NUL.
void checkFieldValue(const std::string& v) {
  check(v.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos);
}

void checkComplete(std::string_view input, const HttpHeadResult& r, const HttpHeadLimits& limits) {
  check(r.consumed >= 4 && r.consumed <= input.size() && r.consumed <= limits.max_head_bytes);
  check(input.find("\r\n\r\n") == r.consumed - 4);
  std::string_view head = input.substr(0, r.consumed);
  for (std::size_t i = 0; i < head.size(); ++i) {
    if (head[i] == '\n') check(i > 0 && head[i - 1] == '\r');
    if (head[i] == '\r') check(i + 1 < head.size() && head[i + 1] == '\n');
  }

  const HttpRequestHead& h = r.head;
  check(!h.method.empty());
  for (char c : h.method) check(isTokenChar(c));
  check(!h.path.empty() && h.path.front() == '/');
  check(h.path.find('\0') == std::string::npos);
  for (const auto& [name, value] : h.query)
    check(name.find('\0') == std::string::npos && value.find('\0') == std::string::npos);
  check(h.minor_version == 0 || h.minor_version == 1);
  if (h.content_length) check(*h.content_length < 1'000'000'000'000'000'000u);
  checkFieldValue(h.authorization);
  checkFieldValue(h.content_type);
  checkFieldValue(h.forwarded_for);

  // The head alone is the same head; any strict prefix of it is still waiting for bytes.
  auto alone = parseRequestHead(head, limits);
  check(alone.kind == Kind::Complete && alone.consumed == r.consumed && sameHead(alone.head, h));
  check(parseRequestHead(head.substr(0, r.consumed - 1), limits).kind == Kind::Incomplete);
}

// A head that sets every field away from its default.
constexpr std::string_view kEveryField =
    "POST /a%20b?x=1&y=2 HTTP/1.0\r\nAuthorization: Bearer t\r\nContent-Type: text/plain\r\n"
    "Content-Length: 5\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n"
    "Connection: keep-alive, upgrade\r\nUpgrade: websocket\r\n\r\n";

void checkParse(std::string_view input, const HttpHeadLimits& limits) {
  auto r = parseRequestHead(input, limits);
  check(sameResult(r, parseRequestHead(input, limits)));
  // Parsed into a result that held another head, as the server parses every head into one:
  // nothing of the other head is left.
  HttpHeadResult reused;
  check(parseRequestHead(kEveryField, HttpHeadLimits{}, reused) == Kind::Complete);
  check(parseRequestHead(input, limits, reused) == r.kind && sameResult(r, reused));
  switch (r.kind) {
    case Kind::Complete:
      checkComplete(input, r, limits);
      return;
    case Kind::Invalid:
      check(r.error.status == 400 || r.error.status == 431 || r.error.status == 505);
      check(!r.error.message.empty());
      return;
    case Kind::Incomplete:
      check(input.size() <= limits.max_head_bytes);
      check(input.find("\r\n\r\n") == std::string_view::npos);
      return;
  }
  check(false);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  checkParse(input, HttpHeadLimits{});
  checkParse(input, HttpHeadLimits{.max_head_bytes = 256, .max_fields = 4});
  return 0;
}
