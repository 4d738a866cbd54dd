#pragma once
// HttpServer: HTTP/1.1 on libuv TCP handles, on the EventLoop; WebSocket upgrades are handed to
// libwebsockets (see WebSocket.h), which runs on the same loop as a foreign libuv loop.
//
//   uv_tcp read -> HttpParser (head) -> body (<= limit) -> HttpRequest -> Router
//               -> handler(request, responder)
//   handler answers now or later: HttpResponder::send() from any later loop iteration (after an
//   async Redis reply, say). The answer is written at once (uv_try_write); what the socket does
//   not take is queued with uv_write. Files go out in 64 KiB slices and streamed bodies piece by
//   piece, one per write completion, so one large answer never stalls the loop. A responder
//   whose client left turns send() into a no-op.
//
// Why not libwebsockets for plain HTTP too: lws 4.1 on a libuv loop changes the socket's poll
// set several times per keep-alive request (each change an epoll_ctl), which cost more than the
// request itself under order load. Here a keep-alive connection is read with one uv_read_start
// for its whole life, so a request costs one read and one write.
//
// Requests: one at a time per connection, in order (pipelined requests wait in the buffer,
// at most 64 KiB of them). Heads: see HttpParser.h (8 KiB, 64 fields -> 431). Bodies:
// Content-Length above max_body_bytes -> 413 before reading; a chunked body -> 411 (every API
// client sends Content-Length, and refusing chunked bodies closes a request-smuggling door);
// Content-Length together with Transfer-Encoding -> 400. Each of these closes the connection
// after the answer (write side shut, the rest of the request read and dropped for up to 2 s so
// the client sees the answer rather than a reset). "Expect: 100-continue" is answered.
//
// Timeouts: a request head (and then its body) must arrive within header_timeout_s of its first
// byte (slowloris); an idle keep-alive connection is closed after keepalive_timeout_s; an answer
// the client does not read for keepalive_timeout_s closes the connection.
//
// Behind a reverse proxy: a request whose TCP peer is in options.trusted_proxies gets its
// client address (HttpRequest::remote_ip, WebSocketConnection::remoteIp) from X-Forwarded-For,
// walked as TrustedProxies.h says; from any other peer the header is ignored. With no trusted
// proxies this costs one flag test per request.
//
// Thread: loop thread only. Owned by app/, which registers routes before start().
#include <libwebsockets.h>
#include <uv.h>

#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <utility>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "infra/Error.h"
#include "infra/EventLoop.h"
#include "infra/HttpParser.h"
#include "infra/Metrics.h"
#include "infra/Router.h"
#include "infra/TrustedProxies.h"
#include "infra/WebSocket.h"

namespace bloomcast {

// HttpServer reuses a connection's HttpRequest for its next request: a field added here is
// reset in HttpExchange::reuse() (HttpServer.cc).
struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // decoded, without the query
  std::map<std::string, std::string> query;
  PathParams params;   // from the route pattern
  std::string body;
  std::string authorization;  // raw Authorization header
  std::string content_type;
  // The client's address: the TCP peer, or behind a trusted proxy the client X-Forwarded-For
  // names (HttpServerOptions::trusted_proxies). IPv4 as a dotted quad, IPv6 as RFC 5952 text.
  std::string remote_ip;

  // The token of "Authorization: Bearer TOKEN", or "".
  std::string_view bearerToken() const;  // a view of `authorization`
  std::string queryOr(const std::string& name, std::string fallback = "") const;
};

// A body made while it is sent (a large export), pulled piece by piece so that memory stays
// flat however long it is: each time the socket has taken the previous piece, HttpServer calls
// the producer with a writer; the producer calls the writer exactly once, now or later, with
// the next piece and More, the final piece and Last, or Abort (the connection is closed
// without the terminating chunk, so the client sees a truncated body, never a short "complete"
// one). Sent with Transfer-Encoding: chunked and Connection: close. A writer called after the
// client left does nothing, and the producer is then not called again.
enum class BodyEnd { More, Last, Abort };
using BodyWriter = std::function<void(std::string piece, BodyEnd end)>;
using BodyProducer = std::function<void(BodyWriter write)>;

struct HttpResponse {
  int status = 200;
  std::string content_type;  // "" means application/json, the API's type (no allocation per answer)
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string file_path;  // when set: send this file instead of body
  BodyProducer producer;  // when set: stream the body from it instead of body

  static HttpResponse json(int status, const nlohmann::json& value);
  // {"error":code,"message":message}
  static HttpResponse error(int status, std::string_view code, std::string_view message);
  static HttpResponse text(int status, std::string body, std::string content_type = "text/plain; charset=utf-8");
  static HttpResponse file(std::string path, std::string content_type, std::string cache_control);
  static HttpResponse streamed(int status, std::string content_type, BodyProducer producer);
};

class HttpServer;
struct HttpExchange;
struct HttpConnection;

// The handle a handler completes its request with. Copyable; loop thread only.
class HttpResponder {
 public:
  explicit HttpResponder(std::shared_ptr<HttpExchange> exchange) : exchange_(std::move(exchange)) {}
  // Sends the response once; later calls and calls after the client left do nothing.
  void send(HttpResponse response) const;
  // The same for an application/json answer whose body the caller holds: it is copied into the
  // answer as it goes out (no HttpResponse body of its own: the order path's answer).
  void sendJson(int status, std::string_view body) const;
  // False once the client has gone or a response was sent.
  bool pending() const;

 private:
  std::shared_ptr<HttpExchange> exchange_;
};

using HttpHandler = std::function<void(HttpRequest& request, HttpResponder responder)>;

struct HttpServerOptions {
  std::string bind_address = "0.0.0.0";
  int port = 8080;  // 0 = any free port
  std::size_t max_body_bytes = 16 * 1024;
  int header_timeout_s = 10;
  int keepalive_timeout_s = 30;
  // Open connections (HTTP and WebSocket) one peer address may hold; more are refused at accept
  // (closed at once, counted). 0 = no cap. Mobile carriers put many viewers behind one address,
  // so the default is generous; it stops a single host from exhausting file descriptors.
  std::size_t max_connections_per_ip = 1000;
  // Peers whose X-Forwarded-For names the client (TrustedProxies.h); empty: the header is
  // ignored and every client is its TCP peer. A trusted peer is a proxy carrying many clients,
  // so max_connections_per_ip does not apply to it.
  TrustedProxies trusted_proxies = {};
  WebSocketLimits websocket = {};
};

class HttpServer {
 public:
  HttpServer(EventLoop& loop, MetricsRegistry& metrics, HttpServerOptions options);
  ~HttpServer();

  void route(std::string method, std::string_view pattern, HttpHandler handler);
  // Accepts WebSocket upgrades on exactly `path` (query allowed); see WebSocket.h.
  void websocket(std::string path, WebSocketHandler* handler) { websockets_.route(std::move(path), handler); }
  WebSocketHub& websockets() { return websockets_; }

  // Listens, and creates the lws context for WebSockets (call on the loop thread, or before run()).
  std::expected<void, Error> start();
  int port() const { return bound_port_; }

  // Graceful shutdown, step 1: close the listening socket; requests in flight go on.
  void stopAccepting();
  std::size_t inFlight() const { return in_flight_; }
  // Connections accepted that have not yet delivered a request: a client may have sent one that
  // has not been read yet, so shutdown gives them a moment before closing them unanswered.
  std::size_t awaitingFirstRequest() const;
  // Step 2: closes every connection and releases lws; handles close on the next loop turns.
  void destroy();

  // Internal: the lws protocol callback (WebSocket connections only).
  static int callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len);

 private:
  friend struct HttpExchange;
  friend struct HttpConnection;
  friend class HttpResponder;
  struct WriteReq;
  enum class After { Nothing, Finish, NextFileSlice, NextPiece };

  static void onConnection(uv_stream_t* listener, int status);
  void onRead(HttpConnection& c, ssize_t nread, const uv_buf_t* buf);
  void process(HttpConnection& c);
  void startRequest(HttpConnection& c, HttpHeadResult& parsed);
  void bodyComplete(HttpConnection& c);
  void dispatch(const std::shared_ptr<HttpExchange>& ex);
  void respondEarly(const std::shared_ptr<HttpExchange>& ex, HttpResponse response);
  // `body`: the answer's body when the response holds none of its own (sendJson).
  void respond(const std::shared_ptr<HttpExchange>& ex, std::optional<std::string_view> body = std::nullopt);
  void startReading(HttpConnection& c);
  void write(HttpConnection& c, std::string data, After after);
  // The same for bytes the caller keeps (the answer buffer): copied only if the socket does
  // not take them all at once.
  void write(HttpConnection& c, std::string_view data, After after);
  // uv_try_write when nothing is queued: the bytes written, or nullopt once the connection is
  // closed on an error.
  std::optional<std::size_t> tryWrite(HttpConnection& c, std::string_view data);
  void queueWrite(HttpConnection& c, std::string data, After after);
  void writeDone(HttpConnection& c, After after);
  void nextFileSlice(HttpConnection& c);
  void askProducer(HttpConnection& c);
  void finishExchange(HttpConnection& c);
  void endConnection(HttpConnection& c);  // close after the answer: shut writes, drain reads
  void closeConnection(HttpConnection& c);
  // Hands the connection to lws; `client` is the request's remote_ip, for the WebSocket.
  void handOverToWebSockets(HttpConnection& c, const std::string& client);
  // Sets `out` to the client of a request from a trusted peer, from its X-Forwarded-For.
  void resolveForwardedClient(const HttpConnection& c, std::string_view forwarded_for, std::string& out);
  uint64_t deadlineAfter(std::chrono::milliseconds d) const;
  void sweep();
  void completed(HttpExchange& ex);

  EventLoop& loop_;
  MetricsRegistry& metrics_;
  HttpServerOptions options_;
  HttpHeadLimits head_limits_;
  HttpHeadResult head_;  // every request head is parsed into this one (no allocation per head)
  std::string answer_buffer_;  // respond() formats each answer here
  Router<HttpHandler> router_;
  WebSocketHub websockets_;
  uv_tcp_t* listener_ = nullptr;  // freed by its close callback
  std::unordered_set<HttpConnection*> connections_;  // HTTP connections (not WebSockets)
  Timer sweep_timer_;
  lws_context* context_ = nullptr;
  lws_vhost* vhost_ = nullptr;
  // The lws context's user pointer. lws finishes closing a destroyed context's connections on
  // later loop turns and calls back for each; by then this server may be gone, so the callback
  // reaches it through this cell, which destroy() empties and parks (it is never freed: a few
  // bytes per server ever destroyed, and lws may still read it).
  struct ContextUser {
    HttpServer* server;
  };
  ContextUser* context_user_ = nullptr;
  std::vector<lws_protocols> protocols_;
  int bound_port_ = 0;
  std::size_t in_flight_ = 0;
  int in_callback_ = 0;  // > 0 while lws is calling us: WebSocket frames then wait for a writable turn
  // Per-address connection accounting for max_connections_per_ip: HTTP connections by their
  // HttpConnection, WebSockets (once lws has them) by their wsi. Counted by TCP peer; a trusted
  // proxy is counted but never refused.
  bool admitConnection(const std::string& ip);
  void countOpen(const std::string& ip);
  void countClosed(const std::string& ip);
  void wsOpened(lws* wsi);
  void wsClosed(lws* wsi);
  struct WsAddresses {
    std::string peer;    // the TCP peer: what the connection is counted under
    std::string client;  // the upgrade request's remote_ip: WebSocketConnection::remoteIp()
  };
  std::unordered_map<std::string, std::size_t> connections_by_ip_;
  std::unordered_map<lws*, WsAddresses> ws_addresses_;
  std::unordered_set<lws*> ws_awaiting_upgrade_;
  // The socket being adopted by lws and its client, while lws_adopt_socket_vhost_readbuf runs
  // (wsOpened is called inside it).
  int adopting_fd_ = -1;
  std::string adopting_client_;
  std::shared_ptr<Counter> refused_connections_;
  std::shared_ptr<Counter> forwarded_for_invalid_;
  std::chrono::steady_clock::time_point last_refusal_log_{};
  std::shared_ptr<Histogram> latency_;
  std::map<int, std::shared_ptr<Counter>> responses_by_status_;
};

// Resolves `relative` (a decoded URL path below a mount) inside `root`. Refuses "..", ".",
// backslashes, NUL and anything that resolves (through symlinks) outside root.
std::optional<std::string> safeJoin(const std::string& root, std::string_view relative);

// Content type by file extension (html, js, css, json, m3u8, m4s, mp4, ts, png, svg, ...).
std::string contentTypeFor(std::string_view path);

}  // namespace bloomcast
