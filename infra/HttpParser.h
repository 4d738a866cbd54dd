#pragma once
// HttpParser: the head of one HTTP/1.1 request (request line and header fields), parsed from
// the bytes a connection has buffered. Pure: bytes in, a head or a refusal out; HttpServer owns
// the sockets. Written here rather than taken from a library because the Debian packages this
// project builds on offer none apart from libwebsockets', which cannot be used without its
// connection handling (the per-request poll changes this server exists to avoid).
//
// Strict on purpose: a request that two parsers could read differently is refused, since that
// difference is what request smuggling and cache poisoning live on.
//   - lines end in CRLF; a bare CR or LF, or a folded (obs-fold) line -> 400
//   - field names are tokens with no space before the colon -> 400
//   - Content-Length: digits only, below 10^18, at most once -> 400
//   - the head is at most max_head_bytes (431) with at most max_fields fields (431)
//   - the target is origin-form ("/path?query"); its path is percent-decoded, and a decoded NUL
//     or a malformed escape -> 400
//   - HTTP/1.0 and HTTP/1.1 only -> 505
// What a head means for the body (Transfer-Encoding, Content-Length limits, Expect) is left to
// the server, which knows its limits; the parser reports what the head says.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace bloomcast {

struct HttpHeadLimits {
  std::size_t max_head_bytes = 8 * 1024;
  std::size_t max_fields = 64;
  // X-Forwarded-For elements HttpServer walks, from the right, before it gives up on the header
  // and keeps the proxy's address (TrustedProxies::clientFrom; not used by the parser). A real
  // chain of proxies is a handful of hops; the bound keeps a long list of trusted addresses
  // from costing more than that.
  std::size_t max_forwarded_for_elements = 32;
};

struct HttpRequestHead {
  std::string method;  // as sent: "GET", "POST", ... (a token)
  std::string path;    // percent-decoded, without the query
  std::map<std::string, std::string> query;  // decoded; '+' is a space; a repeated name keeps the last
  int minor_version = 1;  // HTTP/1.<minor>
  bool keep_alive = true;  // HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with "keep-alive"
  std::optional<uint64_t> content_length;
  bool transfer_encoding = false;  // any Transfer-Encoding field
  bool expect_continue = false;    // "Expect: 100-continue"
  bool upgrade_websocket = false;  // "Upgrade: websocket" with "Connection: upgrade"
  std::string authorization;
  std::string content_type;
  // Every X-Forwarded-For field's value, in order, joined by ','; "" when there is none. Only a
  // trusted proxy's is read (TrustedProxies.h).
  std::string forwarded_for;

  // Back to the values above, the strings emptied but keeping their storage (a head parsed
  // into a used result).
  void reset() {
    method.clear();
    path.clear();
    query.clear();
    minor_version = 1;
    keep_alive = true;
    content_length.reset();
    transfer_encoding = false;
    expect_continue = false;
    upgrade_websocket = false;
    authorization.clear();
    content_type.clear();
    forwarded_for.clear();
  }
};

struct HttpHeadError {
  int status = 400;  // 400, 431 or 505
  std::string message;
};

struct HttpHeadResult {
  enum class Kind { Incomplete, Complete, Invalid };
  Kind kind = Kind::Incomplete;
  std::size_t consumed = 0;  // bytes of the head, CRLFCRLF included (Complete only)
  HttpRequestHead head;      // Complete only
  HttpHeadError error;       // Invalid only
};

// Parses the head at the start of `buffered`. Incomplete: more bytes may complete it (and
// `buffered` is still within the limits).
HttpHeadResult parseRequestHead(std::string_view buffered, const HttpHeadLimits& limits = {});
// The same into `result`, whatever it held before (its strings keep their storage, so a server
// parsing every request into one result allocates nothing for a head's fields); returns its kind.
HttpHeadResult::Kind parseRequestHead(std::string_view buffered, const HttpHeadLimits& limits,
                                      HttpHeadResult& result);

// Percent-decodes `in` ("%41" -> "A"; with plus_is_space, "+" -> " "). Nothing on a malformed
// escape or a decoded NUL.
std::optional<std::string> percentDecode(std::string_view in, bool plus_is_space);
// The same into `out` (emptied first, its storage kept); false where percentDecode gives nothing
// (`out` then holds no meaningful value).
bool percentDecodeInto(std::string_view in, bool plus_is_space, std::string& out);

}  // namespace bloomcast
