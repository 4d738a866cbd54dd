#pragma once
// Logging: spdlog's default logger, to stderr, plus libwebsockets' own warnings and errors
// routed into it. Thread: call once from main before other threads start.
#include <string>

namespace bloomcast {

// `level`: trace, debug, info, warn, error, critical, off.
void initLogging(const std::string& level);

}  // namespace bloomcast
