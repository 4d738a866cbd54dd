#include "infra/HttpServer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "infra/LwsSupport.h"

namespace bloomcast {
namespace fs = std::filesystem;
using namespace std::string_view_literals;

// One HTTP connection: a libuv TCP handle and what has been read from it.
struct HttpConnection {
  enum class State {
    Head,        // reading a request head (or idle between keep-alive requests)
    Body,        // reading the body of `exchange`
    Responding,  // `exchange` is with its handler or being written
    Draining,    // answered and write side shut; reading what the client still sends, dropping it
    Closing,     // uv_close called
  };
  uv_tcp_t tcp{};
  HttpServer* server = nullptr;  // null once the server is destroyed
  std::string ip;  // the TCP peer
  bool peer_trusted = false;  // ip is a trusted proxy: X-Forwarded-For names the client
  std::string in;  // read, not yet parsed
  State state = State::Head;
  std::shared_ptr<HttpExchange> exchange;
  // The previous exchange, taken for the next request once nothing else holds it: its strings
  // keep their storage, so a keep-alive connection's requests allocate none of their own.
  std::shared_ptr<HttpExchange> spare;
  std::size_t body_needed = 0;
  bool requested = false;     // a request head has arrived (awaitingFirstRequest)
  bool head_started = false;  // bytes of the next head have arrived (its timeout runs)
  bool reading = false;
  bool processing = false;    // inside process(): nested calls leave the work to its loop
  std::size_t writes_in_flight = 0;
  // When the connection is closed unless it moves on (HttpServer::deadlineAfter's clock).
  uint64_t deadline_ms = 0;
  // A file body being sent.
  int file_fd = -1;
  uint64_t file_left = 0;
};

// One HTTP request and its answer. Shared by the connection (until it closes or the
// exchange completes) and by every HttpResponder copy.
struct HttpExchange {
  HttpServer* server = nullptr;
  HttpConnection* conn = nullptr;  // null once the client left or the exchange completed
  HttpRequest request;
  std::optional<HttpResponse> response;
  bool keep_alive = true;
  bool http10 = false;  // an HTTP/1.0 client that asked for keep-alive is told it has it
  bool close_after = false;  // the request was refused or its body not read: no reuse
  bool producer_asked = false;
  std::chrono::steady_clock::time_point started;  // loopTurnClock: the turn the head was read in

  // Back to a fresh exchange's state for the next request; strings are emptied, not freed.
  // startRequest sets the rest (server, conn, started).
  void reuse() {
    request.method.clear();
    request.path.clear();
    request.query.clear();
    request.params.clear();
    request.body.clear();
    request.authorization.clear();
    request.content_type.clear();
    request.remote_ip.clear();
    response.reset();
    keep_alive = true;
    http10 = false;
    close_after = false;
    producer_asked = false;
  }
};

struct HttpServer::WriteReq {
  uv_write_t req{};
  std::string data;
  After after = After::Nothing;
};

namespace {

constexpr std::size_t kReadBufferBytes = 64 * 1024;
constexpr std::size_t kMaxPipelinedBytes = 64 * 1024;  // buffered behind a request in progress
constexpr std::size_t kFileSliceBytes = 64 * 1024;
constexpr std::size_t kKeptAnswerBufferBytes = 64 * 1024;
constexpr std::size_t kKeptRequestBodyBytes = 2 * 1024;  // the most a spare exchange's body keeps
constexpr auto kDrainTime = std::chrono::seconds(2);
constexpr std::size_t kWsMaxSendBytes = 256 * 1024;  // larger than any frame we send

bool knownMethod(std::string_view m) {
  return m == "GET" || m == "POST" || m == "PUT" || m == "PATCH" || m == "DELETE" || m == "HEAD" ||
         m == "OPTIONS";
}

const char* reasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return status < 400 ? "OK" : status < 500 ? "Client Error" : "Server Error";
  }
}

// "HTTP/1.1 STATUS REASON\r\nserver: bloomcast\r\ncontent-type: ", the start every answer of
// STATUS has, made once per status (it was a dozen appends and two number formats per answer).
std::string_view answerStart(int status) {
  auto make = [](int s) {
    return "HTTP/1.1 " + std::to_string(s) + " " + reasonPhrase(s) + "\r\nserver: bloomcast\r\ncontent-type: ";
  };
  static const std::array<std::string, 500> starts = [&make] {
    std::array<std::string, 500> all;
    for (int s = 100; s < 600; ++s) all[static_cast<std::size_t>(s - 100)] = make(s);
    return all;
  }();
  if (status >= 100 && status < 600) return starts[static_cast<std::size_t>(status - 100)];
  thread_local std::string other;  // no handler answers outside 1xx..5xx; still, say what it asked
  other = make(status);
  return other;
}

// The read buffer: libuv reads into it and the bytes are appended to the connection's own
// buffer at once, so one per loop thread serves every connection.
char* readBuffer() {
  thread_local std::unique_ptr<char[]> buffer(new char[kReadBufferBytes]);
  return buffer.get();
}

HttpConnection* connectionOf(void* handle) {
  return static_cast<HttpConnection*>(static_cast<uv_handle_t*>(handle)->data);
}

}  // namespace

// ---- request / response helpers ---------------------------------------------------------------

std::string_view HttpRequest::bearerToken() const {
  constexpr std::string_view prefix = "Bearer ";
  if (authorization.size() > prefix.size() && authorization.starts_with(prefix))
    return std::string_view(authorization).substr(prefix.size());
  return {};
}

std::string HttpRequest::queryOr(const std::string& name, std::string fallback) const {
  auto it = query.find(name);
  return it == query.end() ? fallback : it->second;
}

HttpResponse HttpResponse::json(int status, const nlohmann::json& value) {
  HttpResponse r;
  r.status = status;
  r.body = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

HttpResponse HttpResponse::error(int status, std::string_view code, std::string_view message) {
  return json(status, {{"error", code}, {"message", message}});
}

HttpResponse HttpResponse::text(int status, std::string body, std::string content_type) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  return r;
}

HttpResponse HttpResponse::file(std::string path, std::string content_type,
                                std::string cache_control) {
  HttpResponse r;
  r.file_path = std::move(path);
  r.content_type = std::move(content_type);
  r.headers.emplace_back("cache-control", std::move(cache_control));
  return r;
}

HttpResponse HttpResponse::streamed(int status, std::string content_type, BodyProducer producer) {
  HttpResponse r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.producer = std::move(producer);
  return r;
}

void HttpResponder::send(HttpResponse response) const {
  auto& ex = *exchange_;
  if (ex.response || !ex.conn) return;
  ex.response = std::move(response);
  ex.server->respond(exchange_);
}

void HttpResponder::sendJson(int status, std::string_view body) const {
  auto& ex = *exchange_;
  if (ex.response || !ex.conn) return;
  ex.response.emplace().status = status;
  ex.server->respond(exchange_, body);
}

bool HttpResponder::pending() const { return exchange_->conn && !exchange_->response; }

std::optional<std::string> safeJoin(const std::string& root, std::string_view relative) {
  if (relative.find('\0') != std::string_view::npos || relative.find('\\') != std::string_view::npos)
    return std::nullopt;
  fs::path rel;
  std::size_t i = 0;
  while (i <= relative.size()) {
    std::size_t j = relative.find('/', i);
    if (j == std::string_view::npos) j = relative.size();
    std::string_view seg = relative.substr(i, j - i);
    if (seg == ".." || seg == ".") return std::nullopt;
    if (!seg.empty()) rel /= std::string(seg);
    i = j + 1;
  }
  std::error_code ec;
  fs::path base = fs::weakly_canonical(root, ec);
  if (ec) return std::nullopt;
  fs::path full = fs::weakly_canonical(base / rel, ec);
  if (ec) return std::nullopt;
  auto [b, f] = std::mismatch(base.begin(), base.end(), full.begin(), full.end());
  if (b != base.end()) return std::nullopt;
  return full.string();
}

std::string contentTypeFor(std::string_view path) {
  static const std::map<std::string, std::string, std::less<>> types = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
      {".m3u8", "application/vnd.apple.mpegurl"},
      {".m4s", "video/iso.segment"},
      {".mp4", "video/mp4"},
      {".ts", "video/mp2t"},
      {".aac", "audio/aac"},
  };
  auto dot = path.rfind('.');
  if (dot != std::string_view::npos) {
    auto it = types.find(path.substr(dot));
    if (it != types.end()) return it->second;
  }
  return "application/octet-stream";
}

// ---- server -----------------------------------------------------------------------------------

HttpServer::HttpServer(EventLoop& loop, MetricsRegistry& metrics, HttpServerOptions options)
    : loop_(loop),
      metrics_(metrics),
      options_(std::move(options)),
      websockets_(loop, metrics, in_callback_, options_.websocket),
      sweep_timer_(loop) {
  latency_ = metrics_.histogram("bloomcast_http_request_duration_seconds",
                                "Time from request to the start of its response",
                                latencyBucketsSeconds());
  metrics_.gaugeCallback("bloomcast_http_requests_in_flight", "HTTP requests not yet answered",
                         [this] { return static_cast<double>(in_flight_); });
  metrics_.gaugeCallback("bloomcast_http_connections", "Open HTTP and WebSocket connections",
                         [this] { return static_cast<double>(connections_.size() + ws_addresses_.size()); });
  refused_connections_ = metrics_.counter(
      "bloomcast_http_connections_refused_total",
      "Connections closed at accept because their address held max_connections_per_ip");
  forwarded_for_invalid_ = metrics_.counter(
      "bloomcast_http_forwarded_for_invalid_total",
      "Requests from trusted proxies whose X-Forwarded-For could not be read (an element not an "
      "address, or too many elements); they kept the proxy's address");
}

namespace {
// The peer address of a socket as text; an IPv4 peer on a dual-stack socket (::ffff:a.b.c.d)
// counts as a.b.c.d, so HTTP and WebSocket connections of one client count alike.
std::string peerAddress(const sockaddr_storage& addr) {
  char ip[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET6) {
    const in6_addr& a6 = reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a6)) return inet_ntop(AF_INET, &a6.s6_addr[12], ip, sizeof ip) ? ip : "";
    return inet_ntop(AF_INET6, &a6, ip, sizeof ip) ? ip : "";
  }
  if (addr.ss_family != AF_INET) return "";
  return inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&addr)->sin_addr, ip, sizeof ip) ? ip : "";
}

std::string peerAddress(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "";
  return peerAddress(addr);
}
}  // namespace

// Counted per addressKey: an IPv6 client by its /64.
bool HttpServer::admitConnection(const std::string& ip) {
  if (options_.max_connections_per_ip == 0) return true;
  auto it = connections_by_ip_.find(addressKey(ip));
  if (ip.empty() || it == connections_by_ip_.end() || it->second < options_.max_connections_per_ip) return true;
  refused_connections_->inc();
  // One line per second at most: a flood must not become a log flood.
  auto now = std::chrono::steady_clock::now();
  if (now - last_refusal_log_ > std::chrono::seconds(1)) {
    last_refusal_log_ = now;
    spdlog::warn("http: refusing connections from {}: {} open (max_connections_per_ip)", ip, it->second);
  }
  return false;
}

void HttpServer::countOpen(const std::string& ip) { ++connections_by_ip_[addressKey(ip)]; }

void HttpServer::countClosed(const std::string& ip) {
  auto count = connections_by_ip_.find(addressKey(ip));
  if (count != connections_by_ip_.end() && --count->second == 0) connections_by_ip_.erase(count);
}

void HttpServer::wsOpened(lws* wsi) {
  int fd = lws_get_socket_fd(wsi);
  std::string peer = peerAddress(fd);
  std::string client = fd == adopting_fd_ ? adopting_client_ : peer;
  auto [it, fresh] = ws_addresses_.emplace(wsi, WsAddresses{std::move(peer), std::move(client)});
  if (fresh) countOpen(it->second.peer);
  ws_awaiting_upgrade_.insert(wsi);
}

void HttpServer::wsClosed(lws* wsi) {
  ws_awaiting_upgrade_.erase(wsi);
  auto it = ws_addresses_.find(wsi);
  if (it == ws_addresses_.end()) return;
  countClosed(it->second.peer);
  ws_addresses_.erase(it);
}

HttpServer::~HttpServer() { destroy(); }

void HttpServer::route(std::string method, std::string_view pattern, HttpHandler handler) {
  router_.add(std::move(method), pattern, std::move(handler));
}

std::expected<void, Error> HttpServer::start() {
  auto fail = [&](std::string what) -> std::expected<void, Error> {
    destroy();
    return std::unexpected(Error{"http", std::move(what)});
  };
  // WebSockets: an lws vhost that listens nowhere; upgrades are adopted into it.
  protocols_.clear();
  // tx_packet_size: lws cuts every send() to this (rx_buffer_size when 0) and sends the rest on
  // a writable callback, two poll changes later. A chat batch is up to 64 KiB (ChatService), so
  // with 4096 most batches left in two sends and a writable round trip per recipient.
  protocols_.push_back(lws_protocols{"http", &HttpServer::callback, 0, 4096, 0, nullptr, kWsMaxSendBytes});
  protocols_.push_back(lws_protocols{nullptr, nullptr, 0, 0, 0, nullptr, 0});
  lws_context_creation_info info{};
  void* foreign_loops[1] = {loop_.uv()};
  info.foreign_loops = foreign_loops;
  info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
  if (!context_user_) context_user_ = new ContextUser{this};
  info.user = context_user_;
  info.pcontext = &context_;
  context_ = lws_create_context(&info);
  if (!context_) return fail("cannot create libwebsockets context");
  lws_context_creation_info vinfo{};
  vinfo.port = CONTEXT_PORT_NO_LISTEN_SERVER;
  vinfo.protocols = protocols_.data();
  vinfo.vhost_name = "bloomcast";
  vinfo.server_string = "bloomcast";
  vinfo.timeout_secs = static_cast<unsigned int>(options_.header_timeout_s);
  // WebSocket peers idle for 30 s are pinged; no answer for 70 s and they are dropped, so a phone
  // that vanished without a FIN does not hold a slot.
  static const lws_retry_bo_t idle_policy = {nullptr, 0, 0, 30, 70, 0};
  vinfo.retry_and_idle_policy = &idle_policy;
  vinfo.options = LWS_SERVER_OPTION_DISABLE_IPV6;
  vhost_ = lws_create_vhost(context_, &vinfo);
  if (!vhost_) return fail("cannot create the WebSocket vhost");

  std::string where = options_.bind_address + ":" + std::to_string(options_.port);
  sockaddr_in addr{};
  if (uv_ip4_addr(options_.bind_address.c_str(), options_.port, &addr) != 0)
    return fail("bad bind address " + options_.bind_address);
  listener_ = new uv_tcp_t{};
  uv_tcp_init(loop_.uv(), listener_);
  listener_->data = this;
  int rc = uv_tcp_bind(listener_, reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(listener_), 4096, &HttpServer::onConnection);
  if (rc != 0) return fail("cannot listen on " + where + ": " + uv_strerror(rc));
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(listener_, reinterpret_cast<sockaddr*>(&bound), &len);
  bound_port_ = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  sweep_timer_.start(1000, 1000, [this] { sweep(); });
  spdlog::info("http: listening on {}:{}", options_.bind_address, bound_port_);
  return {};
}

void HttpServer::stopAccepting() {
  if (!listener_) return;
  uv_close(reinterpret_cast<uv_handle_t*>(listener_), [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
  listener_ = nullptr;
}

std::size_t HttpServer::awaitingFirstRequest() const {
  std::size_t n = ws_awaiting_upgrade_.size();
  for (const HttpConnection* c : connections_)
    if (!c->requested) ++n;
  return n;
}

void HttpServer::destroy() {
  stopAccepting();
  sweep_timer_.stop();
  for (HttpConnection* c : std::vector<HttpConnection*>(connections_.begin(), connections_.end())) {
    closeConnection(*c);
    c->server = nullptr;
  }
  connections_.clear();
  if (context_user_) {
    static std::mutex parked_mu;
    static std::vector<std::unique_ptr<ContextUser>> parked;
    context_user_->server = nullptr;
    std::lock_guard lock(parked_mu);
    parked.emplace_back(context_user_);
    context_user_ = nullptr;
  }
  if (!context_) return;
  lws_context* c = context_;
  context_ = nullptr;
  vhost_ = nullptr;
  lwsContextDestroyOnUvLoop(c, loop_.uv());
}

// ---- connections ------------------------------------------------------------------------------

void HttpServer::onConnection(uv_stream_t* listener, int status) {
  auto* server = static_cast<HttpServer*>(listener->data);
  if (status < 0) {
    spdlog::warn("http: accept failed: {}", uv_strerror(status));
    return;
  }
  auto* c = new HttpConnection;
  c->tcp.data = c;
  uv_tcp_init(server->loop_.uv(), &c->tcp);
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), [](uv_handle_t* h) { delete connectionOf(h); });
    return;
  }
  sockaddr_storage peer{};
  int len = sizeof peer;
  uv_tcp_getpeername(&c->tcp, reinterpret_cast<sockaddr*>(&peer), &len);
  c->ip = peerAddress(peer);
  c->peer_trusted = server->options_.trusted_proxies.contains(c->ip);
  if (!c->peer_trusted && !server->admitConnection(c->ip)) {
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), [](uv_handle_t* h) { delete connectionOf(h); });
    return;
  }
  c->server = server;
  server->countOpen(c->ip);
  server->connections_.insert(c);
  uv_tcp_nodelay(&c->tcp, 1);
  c->deadline_ms = server->deadlineAfter(std::chrono::seconds(server->options_.header_timeout_s));
  c->head_started = true;  // the first request's head is due from accept on
  server->startReading(*c);
}

void HttpServer::startReading(HttpConnection& c) {
  if (c.reading) return;
  c.reading = true;
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&c.tcp),
      [](uv_handle_t*, size_t, uv_buf_t* buf) { *buf = uv_buf_init(readBuffer(), kReadBufferBytes); },
      [](uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
        HttpConnection* conn = connectionOf(stream);
        if (conn->server) conn->server->onRead(*conn, nread, buf);
      });
}

void HttpServer::onRead(HttpConnection& c, ssize_t nread, const uv_buf_t* buf) {
  if (nread == 0) return;
  if (nread < 0) {  // EOF or error: the client is gone (or done, when draining)
    closeConnection(c);
    return;
  }
  auto n = static_cast<std::size_t>(nread);
  switch (c.state) {
    case HttpConnection::State::Draining:
    case HttpConnection::State::Closing:
      return;  // dropped
    case HttpConnection::State::Head:
      if (!c.head_started) {
        c.head_started = true;
        c.deadline_ms = deadlineAfter(std::chrono::seconds(options_.header_timeout_s));
      }
      // A head can only complete with a line end; parse again only when one arrived or the
      // buffer outgrew a head, so a trickled head costs no rescans.
      c.in.append(buf->base, n);
      if (std::memchr(buf->base, '\n', n) || c.in.size() > head_limits_.max_head_bytes) process(c);
      return;
    case HttpConnection::State::Body:
      c.in.append(buf->base, n);
      process(c);
      return;
    case HttpConnection::State::Responding:
      // Pipelined requests wait; past the bound, stop reading until this answer is out.
      c.in.append(buf->base, n);
      if (c.in.size() > kMaxPipelinedBytes && c.reading) {
        uv_read_stop(reinterpret_cast<uv_stream_t*>(&c.tcp));
        c.reading = false;
      }
      return;
  }
}

void HttpServer::process(HttpConnection& c) {
  if (c.processing) return;
  c.processing = true;
  for (;;) {
    if (c.state == HttpConnection::State::Head) {
      if (c.in.empty()) break;
      // startRequest copies what it needs out of head_ before the request reaches a handler.
      if (parseRequestHead(c.in, head_limits_, head_) == HttpHeadResult::Kind::Incomplete) break;
      startRequest(c, head_);
      continue;
    }
    if (c.state == HttpConnection::State::Body) {
      if (c.in.size() < c.body_needed) break;
      bodyComplete(c);
      continue;
    }
    break;  // Responding, Draining, Closing: nothing to parse now
  }
  c.processing = false;
}

void HttpServer::startRequest(HttpConnection& c, HttpHeadResult& parsed) {
  std::shared_ptr<HttpExchange> ex = std::move(c.spare);
  if (ex && ex.use_count() == 1) ex->reuse();
  else ex = std::make_shared<HttpExchange>();
  ex->server = this;
  ex->conn = &c;
  ex->started = loopTurnClock();
  c.exchange = ex;
  c.requested = true;
  c.head_started = false;
  c.state = HttpConnection::State::Responding;
  ++in_flight_;
  if (parsed.kind == HttpHeadResult::Kind::Invalid) {
    c.in.clear();
    ex->request.method = "?";
    ex->request.remote_ip = c.ip;  // for the log line: no head to read a forwarded client from
    ex->close_after = true;
    const auto& e = parsed.error;
    std::string code = e.status == 431 ? "header_too_large" : e.status == 505 ? "http_version_not_supported" : "bad_request";
    respondEarly(ex, HttpResponse::error(e.status, code, e.message));
    return;
  }
  HttpRequestHead& head = parsed.head;
  std::size_t head_bytes = parsed.consumed;
  auto& req = ex->request;
  // Swapped, not copied or moved: no bytes are copied, and the strings on both sides keep
  // their storage for the next request (the parser clears the head's before it writes them).
  req.method.swap(head.method);
  req.path.swap(head.path);
  req.query.swap(head.query);
  req.authorization.swap(head.authorization);
  req.content_type.swap(head.content_type);
  if (c.peer_trusted && !head.forwarded_for.empty()) resolveForwardedClient(c, head.forwarded_for, req.remote_ip);
  else req.remote_ip = c.ip;
  ex->keep_alive = head.keep_alive;
  ex->http10 = head.minor_version == 0;

  if (head.upgrade_websocket && req.method == "GET" && websockets_.hasRoute(req.path)) {
    // lws reads the head again from the bytes as they came, and everything after them.
    --in_flight_;
    c.exchange.reset();
    ex->conn = nullptr;
    handOverToWebSockets(c, req.remote_ip);
    return;
  }
  c.in.erase(0, head_bytes);
  if (!knownMethod(req.method)) {
    ex->close_after = true;
    respondEarly(ex, HttpResponse::error(405, "method_not_allowed", "unsupported method"));
    return;
  }
  if (head.content_length && head.transfer_encoding) {
    ex->close_after = true;
    respondEarly(ex, HttpResponse::error(400, "bad_request", "Content-Length and Transfer-Encoding together"));
    return;
  }
  if (head.transfer_encoding) {
    ex->close_after = true;
    respondEarly(ex, HttpResponse::error(411, "length_required", "request bodies need a Content-Length"));
    return;
  }
  uint64_t declared = head.content_length.value_or(0);
  if (declared > options_.max_body_bytes) {
    ex->close_after = true;
    respondEarly(ex, HttpResponse::error(413, "payload_too_large",
                                         "request body over " + std::to_string(options_.max_body_bytes) + " bytes"));
    return;
  }
  if (declared == 0) {
    dispatch(ex);
    return;
  }
  c.state = HttpConnection::State::Body;
  c.body_needed = static_cast<std::size_t>(declared);
  c.deadline_ms = deadlineAfter(std::chrono::seconds(options_.header_timeout_s));
  if (head.expect_continue && c.in.size() < c.body_needed)
    write(c, std::string_view("HTTP/1.1 100 Continue\r\n\r\n"), After::Nothing);
}

void HttpServer::bodyComplete(HttpConnection& c) {
  auto ex = c.exchange;
  ex->request.body.assign(c.in, 0, c.body_needed);
  c.in.erase(0, c.body_needed);
  c.body_needed = 0;
  c.state = HttpConnection::State::Responding;
  dispatch(ex);
}

void HttpServer::resolveForwardedClient(const HttpConnection& c, std::string_view forwarded_for,
                                        std::string& out) {
  auto found = options_.trusted_proxies.clientFrom(forwarded_for, head_limits_.max_forwarded_for_elements);
  switch (found.kind) {
    case ForwardedClient::Kind::Found:
      formatIpAddress(found.address, out);
      return;
    case ForwardedClient::Kind::Invalid:
      forwarded_for_invalid_->inc();
      spdlog::debug("http: X-Forwarded-For from {} not used ({}); the request keeps the proxy's address",
                    c.ip, found.why);
      break;
    case ForwardedClient::Kind::Absent:
      break;
  }
  out = c.ip;
}

void HttpServer::handOverToWebSockets(HttpConnection& c, const std::string& client) {
  uv_os_fd_t fd = -1;
  uv_fileno(reinterpret_cast<uv_handle_t*>(&c.tcp), &fd);
  // The libuv handle owns its descriptor and closes it; lws gets a duplicate of the socket.
  int ws_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  int dup_errno = errno;
  adopting_client_ = client;  // before the close: `client` may belong to the connection's exchange
  std::string buffered = std::move(c.in);
  closeConnection(c);
  if (ws_fd < 0 || !vhost_) {
    if (ws_fd >= 0) ::close(ws_fd);
    spdlog::warn("http: cannot hand a WebSocket upgrade over: {}", std::strerror(dup_errno));
    return;
  }
  // On failure lws closes ws_fd itself. lws calls back during the adoption; each callback
  // counts itself in in_callback_, and wsOpened takes the client from adopting_client_.
  adopting_fd_ = ws_fd;
  lws_adopt_socket_vhost_readbuf(vhost_, ws_fd, buffered.data(), buffered.size());
  adopting_fd_ = -1;
}

void HttpServer::respondEarly(const std::shared_ptr<HttpExchange>& ex, HttpResponse response) {
  HttpResponder(ex).send(std::move(response));
}

void HttpServer::dispatch(const std::shared_ptr<HttpExchange>& ex) {
  auto result = router_.match(ex->request.method, ex->request.path);
  if (auto* m = std::get_if<Router<HttpHandler>::Match>(&result)) {
    ex->request.params = std::move(m->params);
    (*m->handler)(ex->request, HttpResponder(ex));
    return;
  }
  if (auto* na = std::get_if<Router<HttpHandler>::MethodNotAllowed>(&result)) {
    std::string allow;
    for (const auto& m : na->allowed) allow += (allow.empty() ? "" : ", ") + m;
    auto r = HttpResponse::error(405, "method_not_allowed",
                                 ex->request.method + " is not allowed here; allowed: " + allow);
    r.headers.emplace_back("allow", allow);
    respondEarly(ex, std::move(r));
    return;
  }
  respondEarly(ex, HttpResponse::error(404, "not_found", "no such resource: " + ex->request.path));
}

// ---- answers ----------------------------------------------------------------------------------

void HttpServer::respond(const std::shared_ptr<HttpExchange>& ex, std::optional<std::string_view> body) {
  HttpConnection& c = *ex->conn;
  HttpResponse& r = *ex->response;
  bool head_only = ex->request.method == "HEAD";
  bool streamed = static_cast<bool>(r.producer);
  bool no_body = r.status == 204 || r.status == 304 || (r.status >= 100 && r.status < 200);
  if (streamed) ex->close_after = true;  // the chunked framing ends the body; no reuse after it
  bool close = ex->close_after || !ex->keep_alive;

  uint64_t length = body ? body->size() : r.body.size();
  if (!r.file_path.empty()) {
    int fd = ::open(r.file_path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      if (fd >= 0) ::close(fd);
      r = HttpResponse::error(404, "not_found", "no such file");
      length = r.body.size();
    } else {
      c.file_fd = fd;
      c.file_left = static_cast<uint64_t>(st.st_size);
      length = c.file_left;
    }
  }
  completed(*ex);

  // The answer goes out of one buffer kept across answers (no allocation per answer).
  std::string& out = answer_buffer_;
  out.clear();
  out.append(answerStart(r.status));
  out.append(r.content_type.empty() ? "application/json"sv : std::string_view(r.content_type));
  if (streamed) {
    out.append("\r\ntransfer-encoding: chunked\r\n"sv);
  } else if (!no_body) {
    char digits[24];
    char* digits_end = std::to_chars(digits, digits + sizeof digits, length).ptr;
    out.append("\r\ncontent-length: "sv).append(digits, digits_end).append("\r\n"sv);
  } else {
    out.append("\r\n"sv);
  }
  for (const auto& [k, v] : r.headers) out.append(k).append(": "sv).append(v).append("\r\n"sv);
  if (close) out.append("connection: close\r\n"sv);
  else if (ex->http10) out.append("connection: keep-alive\r\n"sv);
  out.append("\r\n"sv);

  if (head_only || no_body) {
    if (c.file_fd >= 0) {
      ::close(c.file_fd);
      c.file_fd = -1;
      c.file_left = 0;
    }
    write(c, std::string_view(out), After::Finish);
  } else if (c.file_fd >= 0) {
    write(c, std::string_view(out), After::NextFileSlice);
  } else if (streamed) {
    write(c, std::string_view(out), After::NextPiece);
  } else {
    out.append(body ? *body : std::string_view(r.body));
    std::string().swap(r.body);
    write(c, std::string_view(out), After::Finish);
  }
  // A very large answer is not kept around.
  if (answer_buffer_.capacity() > kKeptAnswerBufferBytes) std::string().swap(answer_buffer_);
}

std::optional<std::size_t> HttpServer::tryWrite(HttpConnection& c, std::string_view data) {
  if (c.writes_in_flight > 0) return 0;
  uv_buf_t buf = uv_buf_init(const_cast<char*>(data.data()), static_cast<unsigned int>(data.size()));
  int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&c.tcp), &buf, 1);
  if (n < 0 && n != UV_EAGAIN) {
    closeConnection(c);
    return std::nullopt;
  }
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

// Writes at once what the socket takes; the rest goes to uv_write, whose completion carries on
// with `after`. A write completed at once carries on at once.
void HttpServer::write(HttpConnection& c, std::string data, After after) {
  if (c.state == HttpConnection::State::Closing) return;
  auto done = tryWrite(c, data);
  if (!done) return;
  if (*done == data.size()) {
    writeDone(c, after);
    return;
  }
  queueWrite(c, *done == 0 ? std::move(data) : data.substr(*done), after);
}

void HttpServer::write(HttpConnection& c, std::string_view data, After after) {
  if (c.state == HttpConnection::State::Closing) return;
  auto done = tryWrite(c, data);
  if (!done) return;
  if (*done == data.size()) {
    // This may answer the next request, reusing the caller's buffer: `data` is not read again.
    writeDone(c, after);
    return;
  }
  queueWrite(c, std::string(data.substr(*done)), after);
}

// Hands `data` to uv_write; its completion carries on with `after` (a later loop turn).
void HttpServer::queueWrite(HttpConnection& c, std::string data, After after) {
  auto* w = new WriteReq;
  w->data = std::move(data);
  w->after = after;
  w->req.data = w;
  ++c.writes_in_flight;
  c.deadline_ms = deadlineAfter(std::chrono::seconds(options_.keepalive_timeout_s));
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned int>(w->data.size()));
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c.tcp), &buf, 1, [](uv_write_t* req, int status) {
    std::unique_ptr<WriteReq> w(static_cast<WriteReq*>(req->data));
    HttpConnection* conn = connectionOf(req->handle);
    --conn->writes_in_flight;
    if (!conn->server || conn->state == HttpConnection::State::Closing) return;
    if (status < 0) {
      conn->server->closeConnection(*conn);
      return;
    }
    HttpServer* server = conn->server;
    conn->deadline_ms = server->deadlineAfter(std::chrono::seconds(server->options_.keepalive_timeout_s));
    conn->server->writeDone(*conn, w->after);
  });
  if (rc != 0) {
    --c.writes_in_flight;
    delete w;
    closeConnection(c);
  }
}

void HttpServer::writeDone(HttpConnection& c, After after) {
  switch (after) {
    case After::Nothing: return;
    case After::Finish: finishExchange(c); return;
    case After::NextFileSlice: nextFileSlice(c); return;
    case After::NextPiece: askProducer(c); return;
  }
}

void HttpServer::nextFileSlice(HttpConnection& c) {
  if (c.file_left == 0) {
    ::close(c.file_fd);
    c.file_fd = -1;
    finishExchange(c);
    return;
  }
  std::string slice(static_cast<std::size_t>(std::min<uint64_t>(c.file_left, kFileSliceBytes)), '\0');
  ssize_t n = ::read(c.file_fd, slice.data(), slice.size());
  if (n <= 0) {  // the file shrank or failed under us: the client sees a short body
    spdlog::warn("http: {} ended early", c.exchange ? c.exchange->request.path : "file");
    closeConnection(c);
    return;
  }
  slice.resize(static_cast<std::size_t>(n));
  c.file_left -= static_cast<uint64_t>(n);
  // One slice per write completion: uv_write completes on a later loop turn, so other
  // connections get their turn between slices.
  queueWrite(c, std::move(slice), After::NextFileSlice);
}

// One piece of a streamed body per write completion, as one HTTP/1.1 chunk; the producer is
// asked for the next piece only once the previous one has left.
void HttpServer::askProducer(HttpConnection& c) {
  auto ex = c.exchange;
  if (!ex || ex->producer_asked) return;
  ex->producer_asked = true;
  std::weak_ptr<HttpExchange> weak = ex;
  BodyWriter writer = [weak](std::string piece, BodyEnd end) {
    auto e = weak.lock();
    if (!e || !e->conn || !e->producer_asked) return;
    e->producer_asked = false;
    HttpConnection& conn = *e->conn;
    HttpServer& server = *e->server;
    if (end == BodyEnd::Abort) {
      spdlog::warn("http: {} {}: streamed body aborted", e->request.method, e->request.path);
      server.closeConnection(conn);
      return;
    }
    bool last = end == BodyEnd::Last;
    std::string framed;
    if (!piece.empty()) {
      char size_line[24];
      int size_len = std::snprintf(size_line, sizeof size_line, "%zx\r\n", piece.size());
      framed.reserve(static_cast<std::size_t>(size_len) + piece.size() + 7);
      framed.append(size_line, static_cast<std::size_t>(size_len)).append(piece).append("\r\n");
    }
    if (last) framed.append("0\r\n\r\n");
    if (framed.empty()) {  // an empty middle piece: ask again
      server.askProducer(conn);
      return;
    }
    server.write(conn, std::move(framed), last ? After::Finish : After::NextPiece);
  };
  auto producer = ex->response->producer;  // a copy: the producer may outlive this call
  producer(std::move(writer));
}

void HttpServer::finishExchange(HttpConnection& c) {
  auto ex = std::move(c.exchange);
  bool close = !ex || ex->close_after || !ex->keep_alive;
  if (ex) {
    ex->conn = nullptr;
    --in_flight_;
  }
  if (close) {
    endConnection(c);
    return;
  }
  if (ex && ex->request.body.capacity() <= kKeptRequestBodyBytes) c.spare = std::move(ex);
  c.state = HttpConnection::State::Head;
  c.deadline_ms = deadlineAfter(std::chrono::seconds(options_.keepalive_timeout_s));
  startReading(c);
  if (!c.in.empty()) {
    c.head_started = true;
    c.deadline_ms = deadlineAfter(std::chrono::seconds(options_.header_timeout_s));
    process(c);
  }
}

// Closing right away while the client is still sending would reset the connection and could
// destroy the answer before the client read it; so the write side is shut (the client sees the
// end of the answer) and what still comes is read and dropped until the client closes or
// kDrainTime passes.
void HttpServer::endConnection(HttpConnection& c) {
  if (c.state == HttpConnection::State::Closing || c.state == HttpConnection::State::Draining) return;
  c.state = HttpConnection::State::Draining;
  c.in.clear();
  c.deadline_ms = deadlineAfter(kDrainTime);
  startReading(c);
  auto* req = new uv_shutdown_t{};
  if (uv_shutdown(req, reinterpret_cast<uv_stream_t*>(&c.tcp), [](uv_shutdown_t* r, int) { delete r; }) != 0) {
    delete req;
    closeConnection(c);
  }
}

void HttpServer::closeConnection(HttpConnection& c) {
  if (c.state == HttpConnection::State::Closing) return;
  c.state = HttpConnection::State::Closing;
  if (c.exchange) {
    c.exchange->conn = nullptr;
    c.exchange.reset();
    --in_flight_;
  }
  if (c.file_fd >= 0) {
    ::close(c.file_fd);
    c.file_fd = -1;
  }
  if (c.server) {
    countClosed(c.ip);
    connections_.erase(&c);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&c.tcp), [](uv_handle_t* h) { delete connectionOf(h); });
}

// Once a second: connections past their deadline are closed (a head or body that does not
// arrive in time, an idle keep-alive connection, an answer the client does not read, a drain
// that is over).
// Deadlines are seconds long and checked once a second, so they are kept in the loop's clock
// (uv_now: milliseconds, read once per loop turn) rather than by a clock read each: a request
// moves its connection's deadline three times.
uint64_t HttpServer::deadlineAfter(std::chrono::milliseconds d) const {
  return uv_now(loop_.uv()) + static_cast<uint64_t>(d.count());
}

void HttpServer::sweep() {
  uint64_t now = uv_now(loop_.uv());
  std::vector<HttpConnection*> expired;
  for (HttpConnection* c : connections_) {
    bool timed = c->state != HttpConnection::State::Responding || c->writes_in_flight > 0;
    if (timed && now > c->deadline_ms) expired.push_back(c);
  }
  for (HttpConnection* c : expired) closeConnection(*c);
}

void HttpServer::completed(HttpExchange& ex) {
  double seconds =
      std::chrono::duration<double>(loopTurnClock() - ex.started).count();
  latency_->observe(seconds);
  int status = ex.response->status;
  auto& counter = responses_by_status_[status];
  if (!counter)
    counter = metrics_.counter("bloomcast_http_responses_total", "HTTP responses by status",
                               {{"code", std::to_string(status)}});
  counter->inc();
  const HttpRequest& q = ex.request;
  if (status >= 500) spdlog::warn("http: {} {} -> {} (client {})", q.method, q.path, status, q.remote_ip);
  else spdlog::debug("http: {} {} -> {} (client {})", q.method, q.path, status, q.remote_ip);
}

// ---- WebSockets (lws) -------------------------------------------------------------------------

int HttpServer::callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
  auto* cell = static_cast<ContextUser*>(lws_context_user(lws_get_context(wsi)));
  HttpServer* server = cell ? cell->server : nullptr;
  if (!server) return lws_callback_http_dummy(wsi, reason, user, in, len);  // destroyed
  struct InCallback {
    int& depth;
    explicit InCallback(int& d) : depth(d) { ++depth; }
    ~InCallback() { --depth; }
  } in_callback(server->in_callback_);
  switch (reason) {
    case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
      server->wsOpened(wsi);
      break;
    case LWS_CALLBACK_WSI_DESTROY:
      server->wsClosed(wsi);
      break;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
      server->ws_awaiting_upgrade_.erase(wsi);
      return server->websockets_.callback(wsi, reason, in, len);
    case LWS_CALLBACK_ESTABLISHED: {
      // (Not `found ? "" : client`: that conditional is a std::string temporary.)
      std::string_view client;
      if (auto addresses = server->ws_addresses_.find(wsi); addresses != server->ws_addresses_.end())
        client = addresses->second.client;
      return server->websockets_.callback(wsi, reason, in, len, client);
    }
    case LWS_CALLBACK_RECEIVE:
    case LWS_CALLBACK_SERVER_WRITEABLE:
    case LWS_CALLBACK_CLOSED:
      return server->websockets_.callback(wsi, reason, in, len);
    case LWS_CALLBACK_HTTP:
      // Only upgrades are handed to lws; one it did not take as such is closed.
      return -1;
    default:
      break;
  }
  return lws_callback_http_dummy(wsi, reason, user, in, len);
}

}  // namespace bloomcast
