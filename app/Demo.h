#pragma once
// Demo: what `bloomcast demo` adds to a running server so that one command shows a live show —
// a demo factory, a stream and three products (one pinned as a flash sale), and the ffmpeg CLI
// publishing a generated test picture and tone to our own RTMP port (restarted if it exits).
// The ids and secrets are kept in DATA_DIR/demo.json so a restart reuses the same stream.
// It prints the viewer, studio and dashboard URLs; the studio and dashboard links carry the
// factory and admin tokens in the URL fragment, which is the point of a local demo (serve
// never prints secrets).
// Thread: loop thread. Owned by app/main (via Server::on_ready); stops ffmpeg when destroyed.
#include <uv.h>

#include <memory>
#include <string>

#include "infra/EventLoop.h"
#include "orders/OrdersModule.h"

namespace bloomcast {

struct DemoOptions {
  std::string data_dir;
  std::string http_base;  // http://127.0.0.1:8080
  int rtmp_port = 1935;
  std::string admin_token;
};

class Demo {
 public:
  Demo(EventLoop& loop, orders::OrdersModule& orders, DemoOptions options);
  ~Demo();
  void start();

 private:
  void ensureCatalog();
  void createCatalog();
  void publish();
  void printUrls();

  EventLoop& loop_;
  orders::OrdersModule& orders_;
  DemoOptions options_;
  std::string factory_id_, factory_token_, stream_id_, stream_key_;
  uv_process_t* ffmpeg_ = nullptr;
  Timer restart_timer_;
  bool stopping_ = false;
};

}  // namespace bloomcast
