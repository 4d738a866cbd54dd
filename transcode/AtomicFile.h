#pragma once
// AtomicFile: writes a whole file so that readers (the HTTP server, a CDN) see either the old
// content or the new one, never a partial file: write PATH.tmp, then rename over PATH.
// Thread: any (no shared state). Errors carry the path and errno text.
#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "infra/Error.h"

namespace bloomcast::transcode {

std::expected<void, Error> writeFileAtomic(const std::string& path, std::span<const uint8_t> bytes);
std::expected<void, Error> writeFileAtomic(const std::string& path, std::string_view text);
// The whole file, or nullopt when it cannot be read.
std::optional<std::string> readTextFile(const std::string& path);

}  // namespace bloomcast::transcode
