#include "infra/Log.h"

#include <libwebsockets.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace bloomcast {

void initLogging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("bloomcast");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v");
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::flush_on(spdlog::level::warn);

  int lws_levels = LLL_ERR | LLL_WARN;
  if (spdlog::get_level() <= spdlog::level::debug) lws_levels |= LLL_NOTICE;
  lws_set_log_level(lws_levels, [](int lws_level, const char* line) {
    std::string_view text(line);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    // lws 4.1 reports every adopted socket with a first read (each WebSocket upgrade HttpServer
    // hands over) at error level: a debugging leftover, not an error.
    if (text.find("adopt_socket_readbuf: ") != std::string_view::npos) lws_level = LLL_NOTICE;
    if (lws_level & LLL_ERR) spdlog::error("lws: {}", text);
    else if (lws_level & LLL_WARN) spdlog::warn("lws: {}", text);
    else spdlog::debug("lws: {}", text);
  });
}

}  // namespace bloomcast
