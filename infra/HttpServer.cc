#include "infra/HttpServer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "infra/LwsSupport.h"

namespace bloomcast {
namespace fs = std::filesystem;

// One HTTP request and its answer. Shared by the connection (until it closes or the
// transaction completes) and by every HttpResponder copy.
struct HttpExchange {
  HttpServer* server = nullptr;
  lws* wsi = nullptr;  // null once the connection is gone or the transaction completed
  HttpRequest request;
  std::optional<HttpResponse> response;
  bool awaiting_body = false;
  bool dispatched = false;
  bool headers_sent = false;
  bool close_after = false;  // the request body was not read: do not reuse the connection
  std::size_t body_offset = 0;
  // Streamed bodies: the piece waiting to be written, and whether the producer was asked.
  std::string piece;
  BodyEnd piece_end = BodyEnd::More;
  bool piece_ready = false;
  bool producer_asked = false;
  bool final_written = false;  // the last chunk is with lws; finish once it has left
  std::chrono::steady_clock::time_point started;
};

namespace {

// lws per-session data: a pointer to the current exchange's holder.
struct Pss {
  std::shared_ptr<HttpExchange>* exchange;
};

std::shared_ptr<HttpExchange> current(void* user) {
  auto* pss = static_cast<Pss*>(user);
  return pss && pss->exchange ? *pss->exchange : nullptr;
}

void release(void* user) {
  auto* pss = static_cast<Pss*>(user);
  if (pss && pss->exchange) {
    delete pss->exchange;
    pss->exchange = nullptr;
  }
}

const char* methodName(int m) {
  switch (m) {
    case LWSHUMETH_GET: return "GET";
    case LWSHUMETH_POST: return "POST";
    case LWSHUMETH_OPTIONS: return "OPTIONS";
    case LWSHUMETH_PUT: return "PUT";
    case LWSHUMETH_PATCH: return "PATCH";
    case LWSHUMETH_DELETE: return "DELETE";
    case LWSHUMETH_HEAD: return "HEAD";
    default: return "";
  }
}

}  // namespace

// ---- request / response helpers ---------------------------------------------------------------

std::string HttpRequest::bearerToken() const {
  constexpr std::string_view prefix = "Bearer ";
  if (authorization.size() > prefix.size() && authorization.starts_with(prefix))
    return authorization.substr(prefix.size());
  return "";
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
  if (ex.response || !ex.wsi) return;
  ex.response = std::move(response);
  if (!ex.server->writeNow(exchange_)) lws_callback_on_writable(ex.wsi);
}

bool HttpResponder::pending() const { return exchange_->wsi && !exchange_->response; }

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
    : loop_(loop), metrics_(metrics), options_(std::move(options)), websockets_(loop, metrics, in_callback_) {
  latency_ = metrics_.histogram("bloomcast_http_request_duration_seconds",
                                "Time from request to the start of its response",
                                latencyBucketsSeconds());
  metrics_.gaugeCallback("bloomcast_http_requests_in_flight", "HTTP requests not yet answered",
                         [this] { return static_cast<double>(in_flight_); });
  metrics_.gaugeCallback("bloomcast_http_connections", "Open HTTP and WebSocket connections",
                         [this] { return static_cast<double>(connection_ip_.size()); });
  refused_connections_ = metrics_.counter(
      "bloomcast_http_connections_refused_total",
      "Connections closed at accept because their address held max_connections_per_ip");
}

namespace {
// The peer address of a socket as text. Both admission (before lws has a connection for the fd)
// and accounting read it here, so the two always agree; an IPv4 peer on a dual-stack socket
// (::ffff:a.b.c.d) counts as a.b.c.d.
std::string peerAddress(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "";
  char ip[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET6) {
    const in6_addr& a6 = reinterpret_cast<sockaddr_in6*>(&addr)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a6)) return inet_ntop(AF_INET, &a6.s6_addr[12], ip, sizeof ip) ? ip : "";
    return inet_ntop(AF_INET6, &a6, ip, sizeof ip) ? ip : "";
  }
  return inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&addr)->sin_addr, ip, sizeof ip) ? ip : "";
}
}  // namespace

bool HttpServer::admitConnection(int fd) {
  if (options_.max_connections_per_ip == 0) return true;
  std::string ip = peerAddress(fd);
  auto it = connections_by_ip_.find(ip);
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

void HttpServer::connectionOpened(lws* wsi) {
  auto [it, fresh] = connection_ip_.emplace(wsi, peerAddress(lws_get_socket_fd(wsi)));
  if (fresh) ++connections_by_ip_[it->second];
  awaiting_request_.insert(wsi);
}

void HttpServer::connectionClosed(lws* wsi) {
  awaiting_request_.erase(wsi);
  auto it = connection_ip_.find(wsi);
  if (it == connection_ip_.end()) return;
  auto count = connections_by_ip_.find(it->second);
  if (count != connections_by_ip_.end() && --count->second == 0) connections_by_ip_.erase(count);
  connection_ip_.erase(it);
}

HttpServer::~HttpServer() { destroy(); }

void HttpServer::route(std::string method, std::string_view pattern, HttpHandler handler) {
  router_.add(std::move(method), pattern, std::move(handler));
}

std::expected<void, Error> HttpServer::start() {
  protocols_.clear();
  protocols_.push_back(lws_protocols{"http", &HttpServer::callback, sizeof(Pss), 4096, 0, nullptr, 0});
  protocols_.push_back(lws_protocols{nullptr, nullptr, 0, 0, 0, nullptr, 0});

  lws_context_creation_info info{};
  void* foreign_loops[1] = {loop_.uv()};
  info.foreign_loops = foreign_loops;
  info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
  if (!context_user_) context_user_ = new ContextUser{this};
  info.user = context_user_;
  info.pcontext = &context_;
  context_ = lws_create_context(&info);
  if (!context_) return std::unexpected(Error{"http", "cannot create libwebsockets context"});

  lws_context_creation_info vinfo{};
  vinfo.port = options_.port;
  vinfo.iface = options_.bind_address == "0.0.0.0" ? nullptr : options_.bind_address.c_str();
  vinfo.protocols = protocols_.data();
  vinfo.vhost_name = "bloomcast";
  vinfo.server_string = "bloomcast";
  vinfo.timeout_secs = static_cast<unsigned int>(options_.header_timeout_s);
  vinfo.keepalive_timeout = options_.keepalive_timeout_s;
  // WebSocket peers idle for 30 s are pinged; no answer for 70 s and they are dropped, so a phone
  // that vanished without a FIN does not hold a slot.
  static const lws_retry_bo_t idle_policy = {nullptr, 0, 0, 30, 70, 0};
  vinfo.retry_and_idle_policy = &idle_policy;
  vinfo.options = LWS_SERVER_OPTION_DISABLE_IPV6;
  vhost_ = lws_create_vhost(context_, &vinfo);
  if (!vhost_) {
    destroy();
    return std::unexpected(Error{"http", "cannot listen on " + options_.bind_address + ":" +
                                             std::to_string(options_.port)});
  }
  bound_port_ = lws_get_vhost_listen_port(vhost_);
  spdlog::info("http: listening on {}:{}", options_.bind_address, bound_port_);
  return {};
}

void HttpServer::stopAccepting() {
  if (context_) lws_context_deprecate(context_, nullptr);
}

void HttpServer::destroy() {
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
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
      // `in` carries the accepted socket; non-zero closes it before any byte is read.
      return server->admitConnection(static_cast<int>(reinterpret_cast<intptr_t>(in))) ? 0 : 1;
    case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
      server->connectionOpened(wsi);
      break;
    case LWS_CALLBACK_WSI_DESTROY:
      server->connectionClosed(wsi);
      break;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
      server->awaiting_request_.erase(wsi);  // a WebSocket upgrade: its request is in
      return server->websockets_.callback(wsi, reason, in, len);
    case LWS_CALLBACK_ESTABLISHED:
    case LWS_CALLBACK_RECEIVE:
    case LWS_CALLBACK_SERVER_WRITEABLE:
    case LWS_CALLBACK_CLOSED:
      return server->websockets_.callback(wsi, reason, in, len);
    case LWS_CALLBACK_HTTP:
      return server->onHttp(wsi, user, static_cast<const char*>(in));
    case LWS_CALLBACK_HTTP_BODY:
      return server->onBody(wsi, user, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
      return server->onBodyComplete(wsi, user);
    case LWS_CALLBACK_HTTP_WRITEABLE:
      return server->onWriteable(wsi, user);
    case LWS_CALLBACK_HTTP_FILE_COMPLETION:
      return server->finishTransaction(wsi, user);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
      server->onClosed(user);
      break;
    default:
      break;
  }
  return lws_callback_http_dummy(wsi, reason, user, in, len);
}

int HttpServer::onHttp(lws* wsi, void* user, const char* uri) {
  if (current(user)) onClosed(user);  // a previous exchange on this connection never finished
  awaiting_request_.erase(wsi);
  auto ex = std::make_shared<HttpExchange>();
  ex->server = this;
  ex->wsi = wsi;
  ex->started = std::chrono::steady_clock::now();
  static_cast<Pss*>(user)->exchange = new std::shared_ptr<HttpExchange>(ex);
  ++in_flight_;

  char* uri_ptr = nullptr;
  int uri_len = 0;
  int method = lws_http_get_uri_and_method(wsi, &uri_ptr, &uri_len);
  auto& req = ex->request;
  req.method = methodName(method);
  req.path = uri ? uri : "";
  req.authorization = lwsHeader(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
  req.content_type = lwsHeader(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE);
  // The peer's address was read once when the connection opened (no syscall per request).
  auto known = connection_ip_.find(wsi);
  req.remote_ip = known != connection_ip_.end() ? known->second : peerAddress(lws_get_socket_fd(wsi));
  req.query = lwsQuery(wsi);

  if (req.method.empty()) {
    ex->close_after = true;
    respondEarly(ex, HttpResponse::error(405, "method_not_allowed", "unsupported method"));
    return 0;
  }
  std::string content_length = lwsHeader(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
  std::string transfer_encoding = lwsHeader(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING);
  if (!content_length.empty() && !transfer_encoding.empty()) {
    ex->close_after = true;
    respondEarly(ex, HttpResponse::error(400, "bad_request",
                                         "Content-Length and Transfer-Encoding together"));
    return 0;
  }
  if (!content_length.empty()) {
    std::size_t declared = 0;
    bool numeric = std::all_of(content_length.begin(), content_length.end(), ::isdigit) &&
                   content_length.size() < 19;
    if (numeric) declared = std::stoull(content_length);
    if (!numeric || declared > options_.max_body_bytes) {
      ex->close_after = true;
      respondEarly(ex, HttpResponse::error(413, "payload_too_large",
                                           "request body over " +
                                               std::to_string(options_.max_body_bytes) + " bytes"));
      return 0;
    }
    if (declared > 0) {
      ex->awaiting_body = true;
      return 0;
    }
  } else if (!transfer_encoding.empty()) {
    ex->close_after = true;
    respondEarly(ex, HttpResponse::error(411, "length_required",
                                         "request bodies need a Content-Length"));
    return 0;
  }
  dispatch(ex);
  return 0;
}

int HttpServer::onBody(lws*, void* user, const void* in, size_t len) {
  auto ex = current(user);
  if (!ex || !ex->awaiting_body) return 0;
  if (ex->request.body.size() + len > options_.max_body_bytes) {
    ex->awaiting_body = false;
    ex->close_after = true;
    ex->request.body.clear();
    respondEarly(ex, HttpResponse::error(413, "payload_too_large",
                                         "request body over " +
                                             std::to_string(options_.max_body_bytes) + " bytes"));
    return 0;
  }
  ex->request.body.append(static_cast<const char*>(in), len);
  return 0;
}

int HttpServer::onBodyComplete(lws*, void* user) {
  auto ex = current(user);
  if (!ex || !ex->awaiting_body) return 0;
  ex->awaiting_body = false;
  dispatch(ex);
  return 0;
}

void HttpServer::respondEarly(const std::shared_ptr<HttpExchange>& ex, HttpResponse response) {
  HttpResponder(ex).send(std::move(response));
}

void HttpServer::dispatch(const std::shared_ptr<HttpExchange>& ex) {
  ex->dispatched = true;
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

namespace {
constexpr std::size_t kInlineBodyBytes = 16 * 1024;  // bodies up to this go out with the headers
}  // namespace

// An answer that arrives outside lws's own callbacks (a Redis reply, a timer) and is small goes
// straight out: asking lws for a writable turn first costs two poll changes, and on the libuv
// backend each is several epoll_ctl calls (uv_poll_start re-adds the fd) — more than the send.
// No "is the socket full" probe (lws_send_pipe_choked is a poll() call): the previous answer on
// this connection has left (lws completes a transaction only then), and should the kernel take
// only part of this one, lws keeps the rest and sends it when the socket drains.
bool HttpServer::writeNow(const std::shared_ptr<HttpExchange>& ex) {
  if (in_callback_ > 0 || !ex->wsi || ex->headers_sent || ex->close_after || ex->awaiting_body) return false;
  const HttpResponse& r = *ex->response;
  if (!r.file_path.empty() || r.producer || r.body.size() > kInlineBodyBytes) return false;
  lws* wsi = ex->wsi;
  ++in_callback_;
  int rc = onWriteable(wsi, lws_wsi_user(wsi));
  --in_callback_;
  // Outside a callback there is no return value to close with: lws closes it on its next turn.
  if (rc < 0) lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
  return true;
}

int HttpServer::onWriteable(lws* wsi, void* user) {
  auto ex = current(user);
  if (!ex || !ex->response) return 0;
  HttpResponse& r = *ex->response;
  bool head = ex->request.method == "HEAD";

  if (!ex->headers_sent && !r.file_path.empty()) {
    ex->headers_sent = true;
    completed(*ex);
    std::string extra;
    for (const auto& [k, v] : r.headers) extra += k + ": " + v + "\r\n";
    int n = lws_serve_http_file(wsi, r.file_path.c_str(), r.content_type.c_str(),
                                extra.empty() ? nullptr : extra.c_str(), static_cast<int>(extra.size()));
    if (n < 0) return -1;
    if (n > 0) return finishTransaction(wsi, user);
    return 0;
  }

  if (!ex->headers_sent) {
    ex->headers_sent = true;
    completed(*ex);
    std::vector<unsigned char> buf(LWS_PRE + 4096 + r.headers.size() * 256 +
                                   (r.body.size() <= kInlineBodyBytes ? r.body.size() : 0));
    unsigned char* start = buf.data() + LWS_PRE;
    unsigned char* p = start;
    unsigned char* end = buf.data() + buf.size() - 1;
    bool streamed = static_cast<bool>(r.producer);
    // Without a length lws adds "connection: close"; the chunked framing is ours.
    if (streamed) ex->close_after = true;
    if (lws_add_http_common_headers(wsi, static_cast<unsigned int>(r.status), r.content_type.c_str(),
                                    streamed ? LWS_ILLEGAL_HTTP_CONTENT_LEN : r.body.size(), &p, end))
      return -1;
    if (streamed && !head) {
      static const std::string chunked = "chunked";
      if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING,
                                       reinterpret_cast<const unsigned char*>(chunked.data()),
                                       static_cast<int>(chunked.size()), &p, end))
        return -1;
    }
    for (const auto& [k, v] : r.headers) {
      std::string name = k + ":";
      if (lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>(name.c_str()),
                                      reinterpret_cast<const unsigned char*>(v.data()),
                                      static_cast<int>(v.size()), &p, end))
        return -1;
    }
    if (ex->close_after && !streamed) {
      static const std::string close = "close";
      if (lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
                                       reinterpret_cast<const unsigned char*>(close.data()),
                                       static_cast<int>(close.size()), &p, end))
        return -1;
    }
    if (lws_finalize_http_header(wsi, &p, end)) return -1;
    // A small body goes out with the headers in one send: no second writable turn, which on a
    // libuv loop costs a poll change (several epoll_ctl calls) per request.
    bool inline_body = !streamed && !head && r.body.size() <= kInlineBodyBytes &&
                       static_cast<std::size_t>(end - p) >= r.body.size();
    if (inline_body) {
      std::memcpy(p, r.body.data(), r.body.size());
      p += r.body.size();
      ex->body_offset = r.body.size();
    }
    int n = static_cast<int>(p - start);
    if (lws_write(wsi, start, static_cast<std::size_t>(n), LWS_WRITE_HTTP_HEADERS) != n) return -1;
    if ((r.body.empty() && !streamed) || head || inline_body) return finishTransaction(wsi, user);
    lws_callback_on_writable(wsi);
    return 0;
  }

  if (r.producer) return writeStreamed(wsi, user, ex);

  // Body, one slice per writable callback.
  constexpr std::size_t kSlice = 64 * 1024;
  std::size_t n = std::min(kSlice, r.body.size() - ex->body_offset);
  std::vector<unsigned char> buf(LWS_PRE + n);
  std::memcpy(buf.data() + LWS_PRE, r.body.data() + ex->body_offset, n);
  ex->body_offset += n;
  bool last = ex->body_offset == r.body.size();
  if (lws_write(wsi, buf.data() + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) !=
      static_cast<int>(n))
    return -1;
  if (!last) {
    lws_callback_on_writable(wsi);
    return 0;
  }
  return finishTransaction(wsi, user);
}

// One piece of a streamed body per writable callback, as one HTTP/1.1 chunk; the producer is
// asked for the next piece only once this one is handed to lws.
int HttpServer::writeStreamed(lws* wsi, void* user, const std::shared_ptr<HttpExchange>& ex) {
  // lws calls back writable only once what it buffered of a partial send has left, so the
  // connection is closed after the final chunk, not while part of it still waits.
  if (ex->final_written) return finishTransaction(wsi, user);
  if (!ex->piece_ready) {
    if (ex->producer_asked) return 0;  // the producer has not answered yet
    ex->producer_asked = true;
    std::weak_ptr<HttpExchange> weak = ex;
    BodyWriter writer = [weak](std::string piece, BodyEnd end) {
      auto e = weak.lock();
      if (!e || !e->wsi || e->piece_ready || !e->producer_asked) return;
      e->producer_asked = false;
      e->piece = std::move(piece);
      e->piece_end = end;
      e->piece_ready = true;
      lws_callback_on_writable(e->wsi);
    };
    auto producer = ex->response->producer;  // a copy: the producer may outlive this call
    producer(std::move(writer));
    return 0;
  }
  ex->piece_ready = false;
  if (ex->piece_end == BodyEnd::Abort) {
    spdlog::warn("http: {} {}: streamed body aborted", ex->request.method, ex->request.path);
    return -1;
  }
  bool last = ex->piece_end == BodyEnd::Last;
  char size_line[24];
  int size_len = ex->piece.empty() ? 0 : std::snprintf(size_line, sizeof size_line, "%zx\r\n", ex->piece.size());
  std::string framed;
  framed.reserve(LWS_PRE + static_cast<std::size_t>(size_len) + ex->piece.size() + 7);
  framed.append(LWS_PRE, '\0');
  framed.append(size_line, static_cast<std::size_t>(size_len));
  framed.append(ex->piece);
  if (size_len > 0) framed.append("\r\n");
  if (last) framed.append("0\r\n\r\n");
  std::string().swap(ex->piece);
  std::size_t n = framed.size() - LWS_PRE;
  if (n > 0 && lws_write(wsi, reinterpret_cast<unsigned char*>(framed.data()) + LWS_PRE, n,
                         last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != static_cast<int>(n))
    return -1;
  ex->final_written = last;
  lws_callback_on_writable(wsi);
  return 0;
}

void HttpServer::completed(HttpExchange& ex) {
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - ex.started).count();
  latency_->observe(seconds);
  int status = ex.response->status;
  auto& counter = responses_by_status_[status];
  if (!counter)
    counter = metrics_.counter("bloomcast_http_responses_total", "HTTP responses by status",
                               {{"code", std::to_string(status)}});
  counter->inc();
  if (status >= 500) spdlog::warn("http: {} {} -> {}", ex.request.method, ex.request.path, status);
  else spdlog::debug("http: {} {} -> {}", ex.request.method, ex.request.path, status);
}

int HttpServer::finishTransaction(lws* wsi, void* user) {
  auto ex = current(user);
  bool close = ex && ex->close_after;
  if (ex) {
    ex->wsi = nullptr;
    --in_flight_;
  }
  release(user);
  if (close) return -1;
  return lws_http_transaction_completed(wsi) ? -1 : 0;
}

void HttpServer::onClosed(void* user) {
  auto ex = current(user);
  if (ex) {
    if (ex->wsi) --in_flight_;
    ex->wsi = nullptr;
  }
  release(user);
}

}  // namespace bloomcast
