#pragma once
// Static files: the built web pages and the HLS directory, served by lws from disk.
// Thread: loop thread (route registration before start()).
#include <functional>
#include <string>
#include <string_view>

#include "infra/HttpServer.h"

namespace bloomcast {

// Cache-Control value for a served file, by its relative path.
using CachePolicy = std::function<std::string(std::string_view relative_path)>;

// Registers GET `pattern` (which must end in "/*path") to serve files below `root`.
// Requests that escape root ("..", encoded or not, symlinks out) or name no regular file get
// 404. `index_file` answers an empty path.
void serveDirectory(HttpServer& server, std::string_view pattern, std::string root,
                    CachePolicy cache_policy, std::string index_file = "");

// Registers GET `pattern` to answer the page `root/file` (HTML, `Cache-Control: no-cache` so a
// new build reaches browsers at once; the assets it loads live under /static and keep their
// caching). A missing file (pages not built) is 404 in words.
void servePage(HttpServer& server, std::string_view pattern, const std::string& root,
               const std::string& file);

// HLS: playlists must be re-fetched every time, segments never change once written.
std::string hlsCacheControl(std::string_view relative_path);

}  // namespace bloomcast
