#include "app/Server.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "infra/Crypto.h"
#include "infra/StaticFiles.h"

namespace bloomcast {
namespace fs = std::filesystem;

namespace {

void onSignal(uv_signal_t* handle, int signum) {
  spdlog::info("signal {}: shutting down", signum);
  static_cast<Server*>(handle->data)->shutdown();
}

}  // namespace

Server::Server(Config config) : config_(std::move(config)) {}

Server::~Server() {
  ops_.reset();
  redis_.reset();
  http_.reset();
  shutdown_timer_.reset();
  if (embedded_redis_) embedded_redis_->stop();
}

std::expected<void, Error> Server::prepareDataDir() {
  std::error_code ec;
  fs::create_directories(config_.data_dir + "/hls", ec);
  if (ec) return std::unexpected(Error{"data_dir", "cannot create " + config_.data_dir + ": " + ec.message()});
  if (config_.admin_token.empty()) {
    // Generated once and kept, so the organizer's bookmark survives restarts. Never logged.
    std::string path = config_.data_dir + "/admin-token";
    std::ifstream in(path);
    if (!(in >> config_.admin_token) || config_.admin_token.size() < 16) {
      config_.admin_token = randomHex(16);
      std::ofstream out(path, std::ios::trunc);
      out << config_.admin_token << "\n";
      out.close();
      chmod(path.c_str(), 0600);
      if (!out) return std::unexpected(Error{"data_dir", "cannot write " + path});
    }
    spdlog::info("admin token: see {}", path);
  }
  return {};
}

std::expected<void, Error> Server::startRedis() {
  std::string url = config_.redis;
  if (url.empty()) {
    embedded_redis_ = std::make_unique<EmbeddedRedis>(
        EmbeddedRedisOptions{.dir = config_.data_dir + "/redis", .appendfsync = config_.redis_appendfsync});
    if (auto r = embedded_redis_->start(); !r) return std::unexpected(r.error());
    embedded_redis_->supervise(loop_);
    url = embedded_redis_->url();
  }
  auto address = parseRedisAddress(url);
  if (!address) return std::unexpected(address.error());
  redis_ = std::make_unique<RedisClient>(loop_, *address);
  return {};
}

int Server::run() {
  if (auto r = prepareDataDir(); !r) {
    spdlog::error("{}", r.error().message);
    return 1;
  }
  if (auto r = startRedis(); !r) {
    spdlog::error("{}", r.error().message);
    return 1;
  }
  redis_->start();

  HttpServerOptions http_options;
  http_options.bind_address = config_.bind_address;
  http_options.port = config_.http_port;
  http_options.max_body_bytes = static_cast<std::size_t>(config_.max_body_bytes);
  // Benchmarks drive thousands of connections from 127.0.0.1 with --rate-limits off.
  http_options.max_connections_per_ip =
      config_.rate_limits ? static_cast<std::size_t>(config_.max_connections_per_ip) : 0;
  // Behind a TLS-terminating proxy: its X-Forwarded-For names the client, and the proxy is not
  // held to max_connections_per_ip.
  http_options.trusted_proxies = config_.trusted_proxies;
  if (!config_.trusted_proxies.empty())
    spdlog::info("http: X-Forwarded-For is read from {} trusted proxy address block(s)",
                 config_.trusted_proxies.networks().size());
  http_options.websocket.fanout_threads = static_cast<unsigned>(config_.fanout_threads);
  http_options.websocket.fanout_slice = static_cast<std::size_t>(config_.fanout_slice);
  http_ = std::make_unique<HttpServer>(loop_, metrics_, http_options);
  ops_ = std::make_unique<OpsRoutes>(loop_, *http_, *redis_, metrics_);
  orders_ = std::make_unique<orders::OrdersModule>(loop_, *redis_, *http_, metrics_, config_);
  chat_authority_ = std::make_unique<OrdersChatAuthority>(*orders_, config_.admin_token);
  chat_ = std::make_unique<chat::ChatService>(
      loop_, *redis_, *http_, metrics_, *chat_authority_,
      chat::ChatOptions{.rate_limits = config_.rate_limits});
  auto hls_options = transcode::hlsOptionsFromConfig(config_);
  if (!hls_options) {
    spdlog::error("renditions: {}", hls_options.error().message);
    return 1;
  }
  hls_ = std::make_unique<transcode::HlsPipelineFactory>(loop_, metrics_, std::move(*hls_options));
  publish_gate_ = std::make_unique<OrdersPublishGate>(*orders_);
  // Shows cut off by a crash wait for their publishers; abandoned ones become replays, offline.
  hls_->recoverInterruptedShows([gate = publish_gate_.get()](const std::string& stream_id) {
    gate->onOffline(stream_id);
  });
  ingest::RtmpServerOptions rtmp_options;
  rtmp_options.bind_address = config_.bind_address;
  rtmp_options.port = config_.rtmp_port;
  rtmp_options.key_recheck_ms = static_cast<uint64_t>(config_.publisher_recheck_ms);
  rtmp_ = std::make_unique<ingest::RtmpServer>(loop_, metrics_, *publish_gate_, *hls_, rtmp_options);
  if (auto r = rtmp_->start(); !r) {
    spdlog::error("{}", r.error().message);
    return 1;
  }
  serveDirectory(*http_, "/hls/*path", config_.data_dir + "/hls", hlsCacheControl);
  // The built pages (web/, issue 7): next to the executable unless configured.
  std::error_code ec;
  std::string web_dir = config_.web_dir.empty()
                            ? (fs::read_symlink("/proc/self/exe", ec).parent_path() / "web").string()
                            : config_.web_dir;
  serveDirectory(*http_, "/static/*path", web_dir,
                 [](std::string_view) { return std::string("public, max-age=300"); });
  // The pages: tokens travel in the URL fragment (#token=...), which browsers never send, so
  // they reach no log. The stream id of /live/ID is read by the page itself.
  servePage(*http_, "/", web_dir, "index.html");
  servePage(*http_, "/live/:id", web_dir, "live.html");
  servePage(*http_, "/studio", web_dir, "studio.html");
  servePage(*http_, "/dashboard", web_dir, "dashboard.html");
  if (auto r = http_->start(); !r) {
    spdlog::error("{}", r.error().message);
    return 1;
  }

  signal(SIGPIPE, SIG_IGN);
  uv_signal_init(loop_.uv(), &sigint_);
  uv_signal_init(loop_.uv(), &sigterm_);
  sigint_.data = sigterm_.data = this;
  uv_signal_start(&sigint_, onSignal, SIGINT);
  uv_signal_start(&sigterm_, onSignal, SIGTERM);

  spdlog::info("bloomcast ready: http://127.0.0.1:{}/ (redis {})", http_->port(),
               redis_->address().describe());
  if (on_ready) on_ready(*this);
  loop_.run();
  // Redis was closed by the shutdown, so no reply calls into the parts torn down here.
  chat_.reset();
  chat_authority_.reset();
  rtmp_.reset();
  publish_gate_.reset();
  hls_.reset();  // every show ends (ENDLIST); waits for the pipelines to write what they hold
  ops_.reset();
  redis_.reset();
  http_.reset();
  shutdown_timer_.reset();
  if (embedded_redis_) embedded_redis_->stop();
  spdlog::info("bloomcast stopped");
  return 0;
}

int Server::rtmpPort() const { return rtmp_ ? rtmp_->port() : 0; }

void Server::shutdown() {
  loop_.assertInLoopThread();
  if (shutting_down_) return;
  shutting_down_ = true;
  if (on_shutdown) on_shutdown();
  if (rtmp_) rtmp_->stop();  // publishes end now, so their playlists close during the drain
  http_->stopAccepting();
  auto started = std::chrono::steady_clock::now();
  auto deadline = started + std::chrono::milliseconds(config_.shutdown_timeout_ms);
  shutdown_timer_ = std::make_unique<Timer>(loop_);
  shutdown_timer_->start(0, 20, [this, started, deadline] {
    // Requests answered and Redis writes acknowledged (a stream's last status, say). A client
    // whose connection was accepted just before the listener closed gets up to 500 ms for its
    // request to arrive (and be answered) instead of an empty reply; idle keep-alive
    // connections are not waited for.
    auto now = std::chrono::steady_clock::now();
    bool latecomers = http_->awaitingFirstRequest() > 0 && now - started < std::chrono::milliseconds(500);
    bool drained = http_->inFlight() == 0 && redis_->pendingCommands() == 0 && !latecomers;
    if (!drained && now < deadline) return;
    if (!drained) spdlog::warn("shutdown: {} requests still in flight, closing them", http_->inFlight());
    shutdown_timer_->stop();
    finishShutdown();
  });
}

void Server::finishShutdown() {
  redis_->close();
  http_->destroy();
  uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigterm_), nullptr);
  loop_.stop();
}

}  // namespace bloomcast
