// HttpParser: the head of one HTTP/1.1 request, parsed from the bytes a connection has
// buffered. What a head yields (method, decoded path and query, the fields the server acts on),
// that it is found whatever way the bytes arrive, and every refusal with its status.
#include "infra/HttpParser.h"

#include <gtest/gtest.h>

#include <cctype>
#include <functional>
#include <string>
#include <string_view>

namespace bloomcast {
namespace {

using Kind = HttpHeadResult::Kind;
using namespace std::string_literals;

// The head of a complete request; fails the test when it is anything else.
HttpRequestHead headOf(std::string_view bytes, const HttpHeadLimits& limits = {}) {
  auto r = parseRequestHead(bytes, limits);
  EXPECT_EQ(r.kind, Kind::Complete) << "status " << r.error.status << ": " << r.error.message;
  return r.head;
}

// The status a request is refused with (0 when it is not refused); a refusal says why.
int refusal(std::string_view bytes, const HttpHeadLimits& limits = {}) {
  auto r = parseRequestHead(bytes, limits);
  if (r.kind != Kind::Invalid) return 0;
  EXPECT_FALSE(r.error.message.empty());
  return r.error.status;
}

// The fields an HTTP/1.1 head with no field the server acts on yields.
void expectOnlyDefaultFields(const HttpRequestHead& h) {
  EXPECT_TRUE(h.keep_alive);
  EXPECT_FALSE(h.content_length);
  EXPECT_FALSE(h.transfer_encoding);
  EXPECT_FALSE(h.expect_continue);
  EXPECT_FALSE(h.upgrade_websocket);
  EXPECT_EQ(h.authorization, "");
  EXPECT_EQ(h.content_type, "");
  EXPECT_EQ(h.forwarded_for, "");
}

// A GET with `fields` (each ending in CRLF) after the request line.
std::string get(std::string_view target, std::string_view fields = "Host: a\r\n",
                std::string_view version = "HTTP/1.1") {
  return "GET "s.append(target).append(" ").append(version).append("\r\n").append(fields).append("\r\n");
}

// --- What a head yields ------------------------------------------------------------------

TEST(HttpParser, SimpleGetWithQuery) {
  std::string req = "GET /search/red%20tea?q=red+tea&lang=en%2Dus&q=green%20tea&flag&x=a%2Bb=c HTTP/1.1\r\n"
                    "Host: shop.example\r\n\r\n";
  auto r = parseRequestHead(req);
  ASSERT_EQ(r.kind, Kind::Complete);
  EXPECT_EQ(r.consumed, req.size());
  EXPECT_EQ(r.head.method, "GET");
  EXPECT_EQ(r.head.path, "/search/red tea");
  EXPECT_EQ(r.head.minor_version, 1);
  EXPECT_EQ(r.head.query.size(), 4u);
  EXPECT_EQ(r.head.query.at("q"), "green tea");  // a repeated name keeps the last
  EXPECT_EQ(r.head.query.at("lang"), "en-us");
  EXPECT_EQ(r.head.query.at("flag"), "");  // a name without '=' has an empty value
  EXPECT_EQ(r.head.query.at("x"), "a+b=c");  // %2B is a plus; only the first '=' splits
  expectOnlyDefaultFields(r.head);
}

// The server parses every head into one result; a head parsed into it keeps nothing of the
// previous one.
TEST(HttpParser, ParsingIntoAUsedResultLeavesNothingOfTheLastHead) {
  HttpHeadResult r;
  std::string every = "POST /a%20b?x=1 HTTP/1.0\r\nAuthorization: Bearer t\r\n"
                      "Content-Type: text/plain\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n"
                      "Expect: 100-continue\r\nConnection: keep-alive, upgrade\r\n"
                      "Upgrade: websocket\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n";
  ASSERT_EQ(parseRequestHead(every, {}, r), Kind::Complete);
  ASSERT_EQ(r.head.authorization, "Bearer t");
  ASSERT_EQ(r.head.forwarded_for, "203.0.113.9");
  ASSERT_TRUE(r.head.upgrade_websocket);

  std::string plain = get("/b");
  ASSERT_EQ(parseRequestHead(plain, {}, r), Kind::Complete);
  EXPECT_EQ(r.consumed, plain.size());
  EXPECT_EQ(r.head.method, "GET");
  EXPECT_EQ(r.head.path, "/b");
  EXPECT_TRUE(r.head.query.empty());
  EXPECT_EQ(r.head.minor_version, 1);
  expectOnlyDefaultFields(r.head);

  // A refusal, then an incomplete head: each says only what it is.
  ASSERT_EQ(parseRequestHead("GET / HTTP/2.0\r\n\r\n", {}, r), Kind::Invalid);
  EXPECT_EQ(r.error.status, 505);
  ASSERT_EQ(parseRequestHead("GET / HT", {}, r), Kind::Incomplete);
  EXPECT_EQ(r.kind, Kind::Incomplete);
  EXPECT_EQ(r.error.message, "");
}

TEST(HttpParser, PlusIsASpaceOnlyInTheQuery) {
  auto h = headOf(get("/a+b?k+1=v+2"));
  EXPECT_EQ(h.path, "/a+b");
  EXPECT_EQ(h.query.at("k 1"), "v 2");
}

TEST(HttpParser, EmptyQueryPairsAreSkipped) {
  auto h = headOf(get("/?&&a=1&&"));
  ASSERT_EQ(h.query.size(), 1u);
  EXPECT_EQ(h.query.at("a"), "1");
  EXPECT_TRUE(headOf(get("/p?")).query.empty());
}

TEST(HttpParser, PostWithBodyFields) {
  std::string req = "POST /api/orders HTTP/1.1\r\n"
                    "Host: shop.example\r\n"
                    "content-type:application/json  \r\n"
                    "AUTHORIZATION: \tBearer abc.def \r\n"
                    "Content-Length: 17\r\n\r\n";
  auto r = parseRequestHead(req + R"({"sku":"TEA-1"})" "\r\n");
  ASSERT_EQ(r.kind, Kind::Complete);
  EXPECT_EQ(r.consumed, req.size());
  EXPECT_EQ(r.head.method, "POST");
  EXPECT_EQ(r.head.path, "/api/orders");
  EXPECT_EQ(r.head.content_length, 17u);
  EXPECT_EQ(r.head.content_type, "application/json");  // names are case-insensitive, values trimmed
  EXPECT_EQ(r.head.authorization, "Bearer abc.def");
}

TEST(HttpParser, OnlyTheNamesThemselvesInAnyCaseAreActedOn) {
  // Upper and mixed case name the same fields.
  EXPECT_EQ(headOf(get("/", "CONTENT-LENGTH: 5\r\n")).content_length, 5u);
  EXPECT_EQ(headOf(get("/", "Authorization: Bearer x\r\n")).authorization, "Bearer x");
  // Names of the same length that differ in a byte which OR 0x20 would fold onto the real one
  // ('\r' onto '-' is not a token byte; '^' and '~', '_' and DEL are not in these names) or in
  // any other byte are other fields, ignored.
  auto other = headOf(get("/", "Content_Length: 5\r\nContent^Length: 6\r\nAuthorizatioN: a\r\n"
                               "Authorisation: b\r\nContent-Typf: c\r\n"));
  EXPECT_EQ(other.content_length, std::nullopt);
  EXPECT_EQ(other.authorization, "a");
  EXPECT_EQ(other.content_type, "");
  // A byte that folds onto a name's '-' is still refused as no token.
  EXPECT_EQ(refusal(get("/", "Content\rLength: 5\r\n")), 400);
  EXPECT_EQ(refusal(get("/", "X-Forwarded\rFor: 1.2.3.4\r\n")), 400);
}

// The names are compared eight bytes at a time from 8 bytes on, the last word ending at the
// name's end: a byte of any position, upper-cased, still names the field; changed to another
// token byte, or to '-' where the name has a letter, it names another field.
TEST(HttpParser, EachByteOfAKnownNameCountsWhereverItFallsInAWord) {
  struct Known {
    std::string name;
    std::string value;
    std::function<bool(const HttpRequestHead&)> acted_on;
  };
  std::vector<Known> known = {
      {"content-length", "5", [](const HttpRequestHead& h) { return h.content_length == 5u; }},
      {"authorization", "Bearer x", [](const HttpRequestHead& h) { return h.authorization == "Bearer x"; }},
      {"content-type", "text/plain", [](const HttpRequestHead& h) { return h.content_type == "text/plain"; }},
      {"x-forwarded-for", "1.2.3.4", [](const HttpRequestHead& h) { return h.forwarded_for == "1.2.3.4"; }},
      {"transfer-encoding", "chunked", [](const HttpRequestHead& h) { return h.transfer_encoding; }},
      {"connection", "close", [](const HttpRequestHead& h) { return !h.keep_alive; }},
      {"expect", "100-continue", [](const HttpRequestHead& h) { return h.expect_continue; }},
  };
  for (const auto& k : known) {
    SCOPED_TRACE(k.name);
    EXPECT_TRUE(k.acted_on(headOf(get("/", k.name + ": " + k.value + "\r\n"))));
    for (std::size_t i = 0; i < k.name.size(); ++i) {
      SCOPED_TRACE(i);
      std::string upper = k.name, other = k.name;
      upper[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(upper[i])));
      EXPECT_TRUE(k.acted_on(headOf(get("/", upper + ": " + k.value + "\r\n"))));
      other[i] = other[i] == 'q' ? 'z' : other[i] == '-' ? '_' : 'q';
      EXPECT_FALSE(k.acted_on(headOf(get("/", other + ": " + k.value + "\r\n"))));
      if (k.name[i] != '-') {
        other[i] = '-';
        EXPECT_FALSE(k.acted_on(headOf(get("/", other + ": " + k.value + "\r\n"))));
      }
    }
  }
}

// The first lines of a head are found in one pass and remembered; a head with more lines than
// are remembered finds the rest line by line, with the same result.
TEST(HttpParser, AHeadOfManyLinesIsReadToItsLastField) {
  std::string fields;
  for (int i = 0; i < 60; ++i) fields += "X-" + std::to_string(i) + ": v\r\n";
  auto h = headOf(get("/", fields + "Authorization: Bearer late\r\nContent-Length: 7\r\n"));
  EXPECT_EQ(h.authorization, "Bearer late");
  EXPECT_EQ(h.content_length, 7u);
  EXPECT_EQ(refusal(get("/", fields + "X-Late: a\rb\r\n")), 400);  // a bare CR in a late line
  EXPECT_EQ(refusal(get("/", fields + "X-Late: a\nb\r\n")), 400);  // a bare LF
  // The request's own lines, and the body after them, are all the parser is given.
  auto r = parseRequestHead(get("/", fields) + "body\r\n\r\n", {});
  ASSERT_EQ(r.kind, Kind::Complete);
  EXPECT_EQ(r.consumed, get("/", fields).size());
}

// X-Forwarded-For is kept as one list: several fields joined in order (RFC 9110 5.3), each
// value trimmed; what it means is TrustedProxies' to say, not the parser's.
TEST(HttpParser, XForwardedForFieldsAreJoinedInOrder) {
  EXPECT_EQ(headOf(get("/", "X-Forwarded-For: 203.0.113.9, 10.0.0.2\r\n")).forwarded_for, "203.0.113.9, 10.0.0.2");
  EXPECT_EQ(headOf(get("/", "x-forwarded-for:  198.51.100.1 \r\nHost: a\r\nX-FORWARDED-FOR: 203.0.113.9,10.0.0.2\r\n"))
                .forwarded_for,
            "198.51.100.1,203.0.113.9,10.0.0.2");
  EXPECT_EQ(headOf(get("/", "X-Forwarded-For:\r\nX-Forwarded-For: 203.0.113.9\r\n")).forwarded_for, "203.0.113.9");
  EXPECT_EQ(headOf(get("/", "X-Forwarded-For: not an address\r\n")).forwarded_for, "not an address");
  // Fields of the same length are other fields (Accept-Encoding and Accept-Language are 15 too).
  auto other = headOf(get("/", "Accept-Encoding: gzip\r\nAccept-Language: zh-CN\r\nX-Forwarded-Fox: 1.2.3.4\r\n"));
  EXPECT_EQ(other.forwarded_for, "");
  EXPECT_EQ(refusal(get("/", "X-Forwarded-For: 1.2.3.4\x01\r\n")), 400);
}

TEST(HttpParser, ContentLengthLimits) {
  EXPECT_EQ(headOf(get("/", "Content-Length: 0\r\n")).content_length, 0u);
  EXPECT_EQ(headOf(get("/", "Content-Length: 007\r\n")).content_length, 7u);
  EXPECT_EQ(headOf(get("/", "Content-Length: 999999999999999999\r\n")).content_length,
            999'999'999'999'999'999u);  // 18 digits: the largest accepted
}

TEST(HttpParser, TransferEncodingIsReportedForTheServerToJudge) {
  auto h = headOf(get("/", "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n"));
  EXPECT_TRUE(h.transfer_encoding);
  EXPECT_EQ(h.content_length, 4u);
}

TEST(HttpParser, HeaderValuesMayHoldTabsAndObsText) {
  auto h = headOf(get("/", "Authorization: a\tb \xc3\xa9\r\n"));
  EXPECT_EQ(h.authorization, "a\tb \xc3\xa9");
}

TEST(HttpParser, MethodIsAnyTokenAsSent) {
  EXPECT_EQ(headOf("PATCH /x HTTP/1.1\r\n\r\n").method, "PATCH");
  EXPECT_EQ(headOf("get /x HTTP/1.1\r\n\r\n").method, "get");
  EXPECT_EQ(headOf("M-SEARCH /x HTTP/1.1\r\n\r\n").method, "M-SEARCH");
}

TEST(HttpParser, NoFieldsAtAll) {
  auto r = parseRequestHead("GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(r.kind, Kind::Complete);
  EXPECT_EQ(r.consumed, 18u);
  EXPECT_EQ(r.head.minor_version, 0);
}

// --- Connection semantics ----------------------------------------------------------------

TEST(HttpParser, KeepAliveHttp11DefaultsOn) {
  EXPECT_TRUE(headOf(get("/")).keep_alive);
  EXPECT_TRUE(headOf(get("/", "Connection: keep-alive\r\n")).keep_alive);
  EXPECT_FALSE(headOf(get("/", "Connection: close\r\n")).keep_alive);
  EXPECT_FALSE(headOf(get("/", "connection: CLOSE\r\n")).keep_alive);
  EXPECT_FALSE(headOf(get("/", "Connection: keep-alive, close\r\n")).keep_alive);
  EXPECT_FALSE(headOf(get("/", "Connection: keep-alive\r\nConnection: close\r\n")).keep_alive);
  EXPECT_TRUE(headOf(get("/", "Connection: closed\r\n")).keep_alive);  // tokens, not substrings
}

TEST(HttpParser, KeepAliveHttp10DefaultsOff) {
  EXPECT_FALSE(headOf(get("/", "", "HTTP/1.0")).keep_alive);
  EXPECT_TRUE(headOf(get("/", "Connection: keep-alive\r\n", "HTTP/1.0")).keep_alive);
  EXPECT_TRUE(headOf(get("/", "Connection: Keep-Alive\r\n", "HTTP/1.0")).keep_alive);
  EXPECT_FALSE(headOf(get("/", "Connection: close\r\n", "HTTP/1.0")).keep_alive);
  EXPECT_FALSE(headOf(get("/", "Connection: keep-alive,close\r\n", "HTTP/1.0")).keep_alive);
}

TEST(HttpParser, UpgradeWebsocketNeedsBothFields) {
  EXPECT_TRUE(headOf(get("/ws", "Upgrade: websocket\r\nConnection: Upgrade\r\n")).upgrade_websocket);
  EXPECT_TRUE(headOf(get("/ws", "upgrade: WebSocket\r\nconnection: keep-alive, UPGRADE\r\n")).upgrade_websocket);
  EXPECT_TRUE(headOf(get("/ws", "Connection: keep-alive\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"))
                  .upgrade_websocket);
  EXPECT_TRUE(headOf(get("/ws", "Upgrade: foo, websocket\r\nConnection: upgrade\r\n")).upgrade_websocket);
  EXPECT_FALSE(headOf(get("/ws", "Upgrade: websocket\r\n")).upgrade_websocket);
  EXPECT_FALSE(headOf(get("/ws", "Connection: upgrade\r\n")).upgrade_websocket);
  EXPECT_FALSE(headOf(get("/ws", "Upgrade: h2c\r\nConnection: upgrade\r\n")).upgrade_websocket);
  EXPECT_FALSE(headOf(get("/ws", "Upgrade: websocket\r\nConnection: upgraded\r\n")).upgrade_websocket);
  EXPECT_FALSE(headOf(get("/ws", "Upgrade: websockets\r\nConnection: upgrade\r\n")).upgrade_websocket);
}

TEST(HttpParser, ExpectContinue) {
  EXPECT_TRUE(headOf(get("/", "Expect: 100-continue\r\n")).expect_continue);
  EXPECT_TRUE(headOf(get("/", "expect:  100-Continue \r\n")).expect_continue);
  EXPECT_FALSE(headOf(get("/")).expect_continue);
  EXPECT_FALSE(headOf(get("/", "Expect: 200-ok\r\n")).expect_continue);  // the server answers 417
}

// --- Incremental parsing -----------------------------------------------------------------

// Feeds `head` followed by `after` at every split point: every strict prefix of the head is
// Incomplete, and once the head is whole it is Complete with `consumed` its length, whatever
// follows it.
void expectFoundAtEverySplit(const std::string& head, const std::string& after) {
  auto whole = parseRequestHead(head);
  ASSERT_EQ(whole.kind, Kind::Complete) << whole.error.message;
  ASSERT_EQ(whole.consumed, head.size());
  std::string all = head + after;
  for (std::size_t n = 0; n <= all.size(); ++n) {
    auto r = parseRequestHead(std::string_view(all).substr(0, n));
    if (n < head.size()) {
      EXPECT_EQ(r.kind, Kind::Incomplete) << "prefix of " << n << " bytes";
    } else {
      ASSERT_EQ(r.kind, Kind::Complete) << "prefix of " << n << " bytes";
      EXPECT_EQ(r.consumed, head.size()) << "prefix of " << n << " bytes";
      EXPECT_EQ(r.head.method, whole.head.method);
      EXPECT_EQ(r.head.path, whole.head.path);
      EXPECT_EQ(r.head.query, whole.head.query);
      EXPECT_EQ(r.head.content_length, whole.head.content_length);
      EXPECT_EQ(r.head.keep_alive, whole.head.keep_alive);
      EXPECT_EQ(r.head.upgrade_websocket, whole.head.upgrade_websocket);
    }
  }
}

TEST(HttpParser, GetIsFoundAtEverySplitPoint) {
  expectFoundAtEverySplit("GET /a%20b?q=x+y HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "");
}

TEST(HttpParser, BodyAfterTheHeadIsNotConsumed) {
  // The body holds CRLFs, a bare LF and what looks like a head: none of it is the parser's.
  expectFoundAtEverySplit("POST /api/orders HTTP/1.1\r\nHost: a\r\nContent-Length: 32\r\n\r\n",
                          "line\r\n\r\nbare\nGET / HTTP/1.1\r\n\r\n");
}

TEST(HttpParser, WebsocketUpgradeIsFoundAtEverySplitPoint) {
  expectFoundAtEverySplit("GET /ws/chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n",
                          "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"s);
}

TEST(HttpParser, PipelinedRequestsAreParsedOneAtATime) {
  std::string first = "GET /one HTTP/1.1\r\nHost: a\r\n\r\n";
  std::string second = "POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n";
  expectFoundAtEverySplit(first, second + "hi");
  std::string buffered = first + second + "hi";
  auto r1 = parseRequestHead(buffered);
  ASSERT_EQ(r1.kind, Kind::Complete);
  EXPECT_EQ(r1.head.path, "/one");
  auto r2 = parseRequestHead(std::string_view(buffered).substr(r1.consumed));
  ASSERT_EQ(r2.kind, Kind::Complete);
  EXPECT_EQ(r2.head.path, "/two");
  EXPECT_EQ(r2.consumed, second.size());
}

TEST(HttpParser, EmptyBufferIsIncomplete) {
  EXPECT_EQ(parseRequestHead("").kind, Kind::Incomplete);
}

// --- Refusals: line endings and field syntax (400) ---------------------------------------

TEST(HttpParser, BareLfIsRefused) {
  EXPECT_EQ(refusal("GET / HTTP/1.1\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(refusal("GET / HTTP/1.1\r\nHost: a\n\r\n"), 400);
  EXPECT_EQ(refusal("GET / HTTP/1.1\r\nHost: a\n\n"), 400);
  EXPECT_EQ(refusal("GET / HTTP/1.1\r\nHost: a\r\nX: 1\nY: 2\r\n\r\n"), 400);
  // Refused as soon as it is seen, rather than once the head ends (it might never end).
  EXPECT_EQ(refusal("GET / HTTP/1.1\nHost: a"), 400);
  EXPECT_EQ(refusal("\n"), 400);
}

TEST(HttpParser, BareCrIsRefused) {
  EXPECT_EQ(refusal("GET / HTTP/1.1\rHost: a\r\n\r\n"), 400);
  EXPECT_EQ(refusal("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n"), 400);
  EXPECT_EQ(refusal("GET / HTTP/1.1\r\nHost: a\r\r\n\r\n"), 400);
}

TEST(HttpParser, ObsFoldIsRefused) {
  EXPECT_EQ(refusal(get("/", "X-A: 1\r\n 2\r\n")), 400);
  EXPECT_EQ(refusal(get("/", "X-A: 1\r\n\t2\r\n")), 400);
  EXPECT_EQ(refusal(get("/", "Content-Length: 1\r\n 0\r\n")), 400);
  EXPECT_EQ(refusal("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), 400);
}

TEST(HttpParser, SpaceBeforeColonIsRefused) {
  EXPECT_EQ(refusal(get("/", "Host : a\r\n")), 400);
  EXPECT_EQ(refusal(get("/", "Content-Length : 5\r\n")), 400);
  EXPECT_EQ(refusal(get("/", "Transfer-Encoding\t: chunked\r\n")), 400);
}

TEST(HttpParser, MalformedFieldsAreRefused) {
  EXPECT_EQ(refusal(get("/", "NoColon\r\n")), 400);
  EXPECT_EQ(refusal(get("/", ": empty-name\r\n")), 400);
  EXPECT_EQ(refusal(get("/", "Bad(Name): x\r\n")), 400);
  EXPECT_EQ(refusal(get("/", "X\xff: x\r\n")), 400);
}

TEST(HttpParser, DuplicateContentLengthIsRefused) {
  EXPECT_EQ(refusal(get("/", "Content-Length: 5\r\nContent-Length: 5\r\n")), 400);
  EXPECT_EQ(refusal(get("/", "Content-Length: 5\r\ncontent-length: 6\r\n")), 400);
  EXPECT_EQ(refusal(get("/", "Content-Length: 5, 5\r\n")), 400);
}

TEST(HttpParser, MalformedContentLengthIsRefused) {
  for (std::string_view value : {"", "abc", "-1", "+5", "5a", "0x10", "1 2", "1.0", "\xd9\xa5",
                                 "1000000000000000000" /* 19 digits */, "0000000000000000000",
                                 "99999999999999999999999"}) {
    EXPECT_EQ(refusal(get("/", "Content-Length: "s.append(value).append("\r\n"))), 400)
        << "Content-Length: " << value;
  }
}

TEST(HttpParser, ControlCharactersInHeaderValuesAreRefused) {
  EXPECT_EQ(refusal(get("/", "X: a\x01z\r\n")), 400);
  EXPECT_EQ(refusal(get("/", "X: a\x7fz\r\n")), 400);
  EXPECT_EQ(refusal(get("/", "X: a\x1bz\r\n")), 400);
  EXPECT_EQ(refusal(get("/", "X: a\0z\r\n"s)), 400);
  EXPECT_EQ(refusal(get("/", "Authorization: Bearer \0\r\n"s)), 400);
}

// Long values are checked sixteen bytes at a time and the rest one by one: each control byte is
// found at every offset of a 40-byte value, and every other byte (HTAB, the printable ones and
// UTF-8's high ones) passes at every offset.
TEST(HttpParser, EveryControlCharacterIsFoundAtEveryOffsetOfALongValue) {
  for (int c = 0; c < 256; ++c) {
    bool control = (c < 0x20 && c != '\t') || c == 0x7f;
    // CR and LF end the line (a bare one is its own refusal); a value never ends in a space.
    if (c == '\r' || c == '\n' || c == ' ' || c == '\t') continue;
    for (std::size_t at = 0; at < 40; ++at) {
      std::string value(40, 'v');
      value[at] = static_cast<char>(c);
      int status = refusal(get("/", "Authorization: "s.append(value).append("\r\n")));
      ASSERT_EQ(status, control ? 400 : 0) << "byte " << c << " at " << at;
    }
  }
  // Every length, so the last bytes of a value are read in every way (as a block with the lanes
  // past the value ignored, or a byte at a time at the end of the buffer), the value last or
  // followed by another field and a body.
  for (std::size_t length = 1; length <= 40; ++length) {
    for (std::size_t at = 0; at < length; ++at) {
      for (std::string_view after : {"", "Host: a\r\n"}) {
        std::string value(length, 'v');
        value[at] = '\x01';
        std::string fields = "Authorization: "s.append(value).append("\r\n").append(after);
        ASSERT_EQ(refusal(get("/", fields)), 400) << length << " " << at;
        ASSERT_EQ(refusal(get("/", fields) + "body"), 400) << length << " " << at;
        value[at] = 'w';
        fields = "Authorization: "s.append(value).append("\r\n").append(after);
        ASSERT_EQ(refusal(get("/", fields)), 0) << length << " " << at;
      }
    }
  }
  std::string tabbed(40, 'v');
  tabbed[17] = '\t';
  EXPECT_EQ(refusal(get("/", "Authorization: "s.append(tabbed).append("\r\n"))), 0);
}

// --- Refusals: the request line ----------------------------------------------------------

TEST(HttpParser, UnsupportedVersionIs505) {
  EXPECT_EQ(refusal(get("/", "", "HTTP/2.0")), 505);
  EXPECT_EQ(refusal(get("/", "", "HTTP/1.2")), 505);
  EXPECT_EQ(refusal(get("/", "", "HTTP/0.9")), 505);
  EXPECT_EQ(refusal(get("/", "", "HTTP/3.0")), 505);
}

// Regression: any version starting "HTTP/" used to be 505, so "HTTP/one" or "HTTP/1.1x" were
// answered "version not supported" rather than "malformed" (RFC 9112: HTTP/DIGIT.DIGIT).
TEST(HttpParser, GarbageVersionIs400) {
  for (std::string_view version : {"HTTX/1.1", "http/1.1", "HTTP/", "HTTP/1", "HTTP/one",
                                   "HTTP/1.1x", "HTTP/11", "HTTP/1.10", "HTTP/2", "HTTP/1,1", "1.1"}) {
    EXPECT_EQ(refusal(get("/", "", version)), 400) << version;
  }
}

TEST(HttpParser, MalformedRequestLineIs400) {
  EXPECT_EQ(refusal("GET /\r\n\r\n"), 400);
  EXPECT_EQ(refusal("GET\r\n\r\n"), 400);
  EXPECT_EQ(refusal(" GET / HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(refusal("GET  / HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(refusal("GET / HTTP/1.1 \r\n\r\n"), 400);
  EXPECT_EQ(refusal("GET /  HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(refusal("G(T / HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(refusal("GET\t/ HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(refusal("\r\n\r\n"), 400);
  EXPECT_EQ(refusal("\r\nGET / HTTP/1.1\r\n\r\n"), 400);  // no leading empty line either
}

TEST(HttpParser, TargetMustBeAnAbsolutePath) {
  EXPECT_EQ(refusal("OPTIONS * HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(refusal(get("http://shop.example/")), 400);
  EXPECT_EQ(refusal("CONNECT shop.example:443 HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(refusal(get("api/streams")), 400);
  EXPECT_EQ(refusal(get("?q=1")), 400);
  EXPECT_EQ(refusal(get("%2Fapi")), 400);
  EXPECT_EQ(refusal(get("/page#top")), 400);
}

TEST(HttpParser, MalformedEscapeIsRefused) {
  for (std::string_view target : {"/a%", "/a%2", "/a%zz", "/a%2g", "/a%%41", "/?q=%", "/?q=%4",
                                  "/?q=%G0", "/?%2=1", "/?a=1&b=%x1"}) {
    EXPECT_EQ(refusal(get(target)), 400) << target;
  }
}

TEST(HttpParser, DecodedNulIsRefused) {
  EXPECT_EQ(refusal(get("/a%00b")), 400);
  EXPECT_EQ(refusal(get("/%00")), 400);
  EXPECT_EQ(refusal(get("/?q=%00")), 400);
  EXPECT_EQ(refusal(get("/?%00=1")), 400);
}

TEST(HttpParser, ControlCharactersInTheTargetAreRefused) {
  EXPECT_EQ(refusal(get("/a\tb")), 400);
  EXPECT_EQ(refusal(get("/a\x01")), 400);
  EXPECT_EQ(refusal(get("/a\x7f")), 400);
  EXPECT_EQ(refusal(get("/?q=\x1b")), 400);
  EXPECT_EQ(refusal(get("/a\0b"s)), 400);
}

TEST(HttpParser, EscapedCharactersAreDecodedInThePath) {
  // Decoded, not judged: what "/" or ".." in a decoded path means is the router's business.
  auto h = headOf(get("/files/%2e%2E%2Fsecret%3Fx?y=1"));
  EXPECT_EQ(h.path, "/files/../secret?x");
  EXPECT_EQ(h.query.at("y"), "1");
}

// --- Refusals: limits (431) --------------------------------------------------------------

TEST(HttpParser, HeadOverTheLimitIs431) {
  HttpHeadLimits limits{.max_head_bytes = 64, .max_fields = 64};
  // "GET / HTTP/1.1\r\n" + "X: " + value + "\r\n" + "\r\n": 23 bytes around the value.
  std::string head = get("/", "X: " + std::string(41, 'v') + "\r\n");
  ASSERT_EQ(head.size(), 64u);  // exactly the limit: accepted
  EXPECT_EQ(parseRequestHead(head, limits).kind, Kind::Complete);
  EXPECT_EQ(parseRequestHead(head + "body", limits).consumed, 64u);
  EXPECT_EQ(parseRequestHead(head.substr(0, 63), limits).kind, Kind::Incomplete);

  std::string longer = get("/", "X: " + std::string(42, 'v') + "\r\n");
  ASSERT_EQ(longer.size(), 65u);  // one byte over, CRLFCRLF included
  EXPECT_EQ(refusal(longer, limits), 431);
  EXPECT_EQ(refusal(longer + "body", limits), 431);
  EXPECT_EQ(parseRequestHead(longer.substr(0, 64), limits).kind, Kind::Incomplete);
}

TEST(HttpParser, HeadOverTheLimitIs431BeforeItEnds) {
  HttpHeadLimits limits{.max_head_bytes = 64, .max_fields = 64};
  std::string start = "GET / HTTP/1.1\r\nX: " + std::string(45, 'v');  // 64 bytes, no end yet
  ASSERT_EQ(start.size(), 64u);
  EXPECT_EQ(parseRequestHead(start, limits).kind, Kind::Incomplete);
  EXPECT_EQ(refusal(start + "v", limits), 431);
  EXPECT_EQ(refusal(start + std::string(10000, 'v'), limits), 431);
  // The default limit, 8 KiB.
  EXPECT_EQ(refusal("GET / HTTP/1.1\r\nX: " + std::string(9000, 'v')), 431);
  EXPECT_EQ(refusal(get("/", "X: " + std::string(9000, 'v') + "\r\n")), 431);
}

TEST(HttpParser, TooManyFieldsIs431) {
  HttpHeadLimits limits{.max_head_bytes = 8 * 1024, .max_fields = 3};
  EXPECT_EQ(headOf(get("/", "A: 1\r\nB: 2\r\nC: 3\r\n"), limits).method, "GET");
  EXPECT_EQ(refusal(get("/", "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n"), limits), 431);
  std::string many;
  for (int i = 0; i < 65; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(refusal(get("/", many)), 431);  // the default limit, 64
}

// --- percentDecode -----------------------------------------------------------------------

TEST(HttpParser, PercentDecode) {
  EXPECT_EQ(percentDecode("%41%62c", false), "Abc");
  EXPECT_EQ(percentDecode("%e2%82%AC", false), "\xe2\x82\xac");
  EXPECT_EQ(percentDecode("a+b", false), "a+b");
  EXPECT_EQ(percentDecode("a+b", true), "a b");
  EXPECT_EQ(percentDecode("%2B", true), "+");
  EXPECT_EQ(percentDecode("", true), "");
  EXPECT_EQ(percentDecode("%", false), std::nullopt);
  EXPECT_EQ(percentDecode("a%4", false), std::nullopt);
  EXPECT_EQ(percentDecode("%4x", false), std::nullopt);
  EXPECT_EQ(percentDecode("%00", false), std::nullopt);
  EXPECT_EQ(percentDecode("a\0b"s, false), std::nullopt);
  EXPECT_EQ(percentDecode("a\0+b"s, true), std::nullopt);
  // Into a string that keeps its storage: emptied first, whether or not there is an escape.
  std::string out = "left over from the last call";
  EXPECT_TRUE(percentDecodeInto("/api/orders", false, out));
  EXPECT_EQ(out, "/api/orders");
  EXPECT_TRUE(percentDecodeInto("/a%20b+c", true, out));
  EXPECT_EQ(out, "/a b c");
  EXPECT_FALSE(percentDecodeInto("/a%2", false, out));
}

}  // namespace
}  // namespace bloomcast
