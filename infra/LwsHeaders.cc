#include "infra/LwsHeaders.h"

namespace bloomcast {

std::string lwsHeader(lws* wsi, lws_token_indexes token) {
  int n = lws_hdr_total_length(wsi, token);
  if (n <= 0) return "";
  std::string s(static_cast<std::size_t>(n) + 1, '\0');
  int got = lws_hdr_copy(wsi, s.data(), n + 1, token);
  s.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
  return s;
}

std::map<std::string, std::string> lwsQuery(lws* wsi) {
  std::map<std::string, std::string> query;
  for (int i = 0;; ++i) {
    char frag[2048];
    int n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
    if (n < 0) break;
    std::string_view kv(frag, static_cast<std::size_t>(n));
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) query[std::string(kv)] = "";
    else query[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }
  return query;
}

}  // namespace bloomcast
