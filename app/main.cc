// bloomcast: the live-commerce streaming backend. See docs/ARCHITECTURE.md.
//
//   bloomcast demo  [same flags]: serve, plus a demo factory, stream and products and a generated
//                   test picture published to itself over RTMP; prints the URLs
//   bloomcast serve [--config FILE] [--http-port 8080] [--rtmp-port 1935] [--data-dir DIR]
//                   [--redis redis://HOST:PORT | unix:PATH] [--admin-token TOKEN]
//                   [--log-level info] [--renditions source,720p,480p,360p] [--rate-limits on|off]
//                   [--trusted-proxies ADDRESS[/BITS],... (repeatable)]
//
// Each flag is also BLOOMCAST_<NAME> in the environment and <name> in the TOML file; flags win
// over the environment, which wins over the file, which wins over the defaults.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "app/Demo.h"
#include "app/Server.h"
#include "infra/Config.h"
#include "infra/Log.h"

extern char** environ;

int main(int argc, char** argv) {
  CLI::App app{"bloomcast: live-commerce streaming backend"};
  app.require_subcommand(1);
  bloomcast::ConfigFlags serve_flags, demo_flags;
  CLI::App* serve = app.add_subcommand("serve", "Run the server");
  serve_flags.addTo(*serve);
  CLI::App* demo = app.add_subcommand("demo", "Run the server with a live demo show");
  demo_flags.addTo(*demo);
  CLI11_PARSE(app, argc, argv);

  bool demo_mode = demo->parsed();
  auto config = bloomcast::resolveConfig(demo_mode ? demo_flags : serve_flags, environ);
  if (!config) {
    std::fprintf(stderr, "bloomcast: %s\n", config.error().message.c_str());
    return 2;
  }
  bloomcast::initLogging(config->log_level);
  bloomcast::Server server(*config);
  std::unique_ptr<bloomcast::Demo> show;
  if (demo_mode) {
    server.on_ready = [&](bloomcast::Server& s) {
      std::string base = s.config().public_url.empty()
                             ? "http://127.0.0.1:" + std::to_string(s.httpPort())
                             : s.config().public_url;
      show = std::make_unique<bloomcast::Demo>(
          s.loop(), *s.orders(),
          bloomcast::DemoOptions{s.config().data_dir, base, s.rtmpPort(), s.config().admin_token});
      show->start();
    };
    server.on_shutdown = [&] { show.reset(); };
  }
  return server.run();
}
