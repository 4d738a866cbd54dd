// bloomcast: the live-commerce streaming backend. See docs/ARCHITECTURE.md.
//
//   bloomcast serve [--config FILE] [--http-port 8080] [--rtmp-port 1935] [--data-dir DIR]
//                   [--redis redis://HOST:PORT | unix:PATH] [--admin-token TOKEN]
//                   [--log-level info] [--renditions source,720p,480p,360p] [--rate-limits on|off]
//
// Each flag is also BLOOMCAST_<NAME> in the environment and <name> in the TOML file; flags win
// over the environment, which wins over the file, which wins over the defaults.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "app/Server.h"
#include "infra/Config.h"
#include "infra/Log.h"

extern char** environ;

int main(int argc, char** argv) {
  CLI::App app{"bloomcast: live-commerce streaming backend"};
  app.require_subcommand(1);
  bloomcast::ConfigFlags serve_flags;
  CLI::App* serve = app.add_subcommand("serve", "Run the server");
  serve_flags.addTo(*serve);
  CLI11_PARSE(app, argc, argv);

  auto config = bloomcast::resolveConfig(serve_flags, environ);
  if (!config) {
    std::fprintf(stderr, "bloomcast: %s\n", config.error().message.c_str());
    return 2;
  }
  bloomcast::initLogging(config->log_level);
  bloomcast::Server server(*config);
  return server.run();
}
