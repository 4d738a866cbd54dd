#include "infra/StaticFiles.h"

#include <filesystem>

namespace bloomcast {

void serveDirectory(HttpServer& server, std::string_view pattern, std::string root,
                    CachePolicy cache_policy, std::string index_file) {
  server.route("GET", pattern,
               [root = std::move(root), cache_policy = std::move(cache_policy),
                index_file = std::move(index_file)](HttpRequest& req, HttpResponder responder) {
                 std::string rel = req.params["path"];
                 if (rel.empty()) rel = index_file;
                 auto full = rel.empty() ? std::nullopt : safeJoin(root, rel);
                 std::error_code ec;
                 if (!full || !std::filesystem::is_regular_file(*full, ec)) {
                   responder.send(HttpResponse::error(404, "not_found", "no such file"));
                   return;
                 }
                 responder.send(HttpResponse::file(*full, contentTypeFor(*full), cache_policy(rel)));
               });
}

void servePage(HttpServer& server, std::string_view pattern, const std::string& root,
               const std::string& file) {
  server.route("GET", pattern, [path = root + "/" + file](HttpRequest&, HttpResponder responder) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      responder.send(HttpResponse::error(404, "not_found", "the web pages are not built (web/, npm ci)"));
      return;
    }
    responder.send(HttpResponse::file(path, "text/html; charset=utf-8", "no-cache"));
  });
}

std::string hlsCacheControl(std::string_view relative_path) {
  if (relative_path.ends_with(".m3u8")) return "no-cache";
  return "public, max-age=86400, immutable";
}

}  // namespace bloomcast
