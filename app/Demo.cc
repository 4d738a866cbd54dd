#include "app/Demo.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "orders/Catalog.h"

namespace bloomcast {
namespace {

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct DemoProduct {
  const char* sku;
  const char* title;
  int64_t price_cents;
  int64_t stock;
  int64_t limit;
};
constexpr DemoProduct kProducts[] = {
    {"shoe-001", "东莞制造 轻量跑鞋", 19900, 200, 2},
    {"bag-002", "真皮通勤手提包", 39900, 50, 1},
    {"sock-003", "纯棉运动袜 5 双装", 2990, 1000, 10},
};

}  // namespace

Demo::Demo(EventLoop& loop, orders::OrdersModule& orders, DemoOptions options)
    : loop_(loop), orders_(orders), options_(std::move(options)), restart_timer_(loop) {}

Demo::~Demo() {
  stopping_ = true;
  restart_timer_.stop();
  if (ffmpeg_) {
    uv_process_kill(ffmpeg_, SIGTERM);
    ffmpeg_->data = nullptr;  // the exit callback frees it
  }
}

void Demo::start() {
  std::ifstream in(options_.data_dir + "/demo.json");
  auto saved = nlohmann::json::parse(in, nullptr, false);
  if (saved.is_object() && saved.contains("stream_id")) {
    factory_id_ = saved.value("factory_id", "");
    factory_token_ = saved.value("factory_token", "");
    stream_id_ = saved.value("stream_id", "");
    stream_key_ = saved.value("stream_key", "");
  }
  ensureCatalog();
}

void Demo::ensureCatalog() {
  if (stream_id_.empty()) {
    createCatalog();
    return;
  }
  orders_.catalog().getStream(stream_id_, [this](std::expected<orders::StreamInfo, Error> s) {
    if (s) {
      publish();
      return;
    }
    if (s.error().code == "stream_not_found") {
      createCatalog();  // the data was wiped: start over
      return;
    }
    spdlog::warn("demo: cannot read the demo stream yet ({}); retrying", s.error().message);
    restart_timer_.start(1000, 0, [this] { ensureCatalog(); });
  });
}

void Demo::createCatalog() {
  auto& catalog = orders_.catalog();
  catalog.createFactory("东莞示范鞋服厂", nowMs(), [this, &catalog](std::expected<orders::IdAndSecret, Error> f) {
    if (!f) {
      spdlog::warn("demo: creating the factory failed ({}); retrying", f.error().message);
      restart_timer_.start(1000, 0, [this] { createCatalog(); });
      return;
    }
    factory_id_ = f->id;
    factory_token_ = f->secret;
    catalog.createStream(factory_id_, "品质东莞·线上绽放 开幕直播", nowMs(),
                         [this, &catalog](std::expected<orders::IdAndSecret, Error> s) {
                           if (!s) {
                             spdlog::error("demo: creating the stream failed: {}", s.error().message);
                             return;
                           }
                           stream_id_ = s->id;
                           stream_key_ = s->secret;
                           // Written aside and renamed into place, so that a reader (the
                           // demo test, a person's script) never sees it half written.
                           std::string path = options_.data_dir + "/demo.json";
                           {
                             std::ofstream out(path + ".tmp", std::ios::trunc);
                             out << nlohmann::json{{"factory_id", factory_id_}, {"factory_token", factory_token_},
                                                   {"stream_id", stream_id_}, {"stream_key", stream_key_}}
                                        .dump(2);
                           }
                           std::error_code ec;
                           std::filesystem::rename(path + ".tmp", path, ec);
                           if (ec) spdlog::error("demo: cannot save {}: {}", path, ec.message());
                           auto remaining = std::make_shared<int>(static_cast<int>(std::size(kProducts)));
                           for (const auto& p : kProducts) {
                             orders::Product product;
                             product.sku = p.sku;
                             product.title = p.title;
                             product.price_cents = p.price_cents;
                             product.stock = p.stock;
                             product.limit_per_buyer = p.limit;
                             catalog.createProduct(stream_id_, product, nowMs(),
                                                   [this, &catalog, remaining](std::expected<orders::Product, Error>) {
                                                     if (--*remaining > 0) return;
                                                     // A flash sale on the first product, ending in 30 minutes.
                                                     catalog.pin(stream_id_, kProducts[0].sku, nowMs() + 30 * 60 * 1000,
                                                                 nowMs(), [](std::expected<std::string, Error>) {});
                                                     publish();
                                                   });
                           }
                         });
  });
}

void Demo::publish() {
  if (stopping_ || ffmpeg_) return;
  std::string url = "rtmp://127.0.0.1:" + std::to_string(options_.rtmp_port) + "/live/" + stream_key_;
  std::vector<std::string> args = {
      "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re",
      "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
      "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
      "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-g", "60",
      "-keyint_min", "60", "-sc_threshold", "0", "-b:v", "2500k", "-maxrate", "2500k",
      "-bufsize", "5000k", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-f", "flv", url};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  uv_process_options_t opts{};
  opts.file = "ffmpeg";
  opts.args = argv.data();
  opts.exit_cb = [](uv_process_t* p, int64_t status, int) {
    auto* self = static_cast<Demo*>(p->data);
    uv_close(reinterpret_cast<uv_handle_t*>(p), [](uv_handle_t* h) { delete reinterpret_cast<uv_process_t*>(h); });
    if (!self) return;
    self->ffmpeg_ = nullptr;
    if (self->stopping_) return;
    spdlog::warn("demo: the ffmpeg publisher exited ({}); restarting in 2 s", status);
    self->restart_timer_.start(2000, 0, [self] { self->publish(); });
  };
  uv_stdio_container_t stdio[3];
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_IGNORE;
  stdio[2].flags = UV_INHERIT_FD;
  stdio[2].data.fd = 2;
  opts.stdio = stdio;
  opts.stdio_count = 3;
  ffmpeg_ = new uv_process_t;
  ffmpeg_->data = this;
  if (int rc = uv_spawn(loop_.uv(), ffmpeg_, &opts); rc != 0) {
    spdlog::error("demo: cannot start ffmpeg: {}", uv_strerror(rc));
    delete ffmpeg_;
    ffmpeg_ = nullptr;
    return;
  }
  printUrls();
}

void Demo::printUrls() {
  const std::string& base = options_.http_base;
  std::printf(
      "\n  品质东莞·线上绽放 — bloomcast demo is live\n\n"
      "  viewer     %s/live/%s\n"
      "  studio     %s/studio#token=%s\n"
      "  dashboard  %s/dashboard#token=%s\n"
      "  HLS        %s/hls/%s/master.m3u8\n"
      "  publish    rtmp://127.0.0.1:%d/live/<stream key in %s/demo.json>\n\n",
      base.c_str(), stream_id_.c_str(), base.c_str(), factory_token_.c_str(), base.c_str(),
      options_.admin_token.c_str(), base.c_str(), stream_id_.c_str(), options_.rtmp_port,
      options_.data_dir.c_str());
  std::fflush(stdout);
}

}  // namespace bloomcast
