#pragma once
// Reading a request's headers and query arguments out of libwebsockets, shared by the HTTP and
// WebSocket handlers. Thread: the loop thread, inside an lws callback for `wsi`.
#include <libwebsockets.h>

#include <map>
#include <string>

namespace bloomcast {

// One header's value ("" when absent), e.g. WSI_TOKEN_HTTP_AUTHORIZATION.
std::string lwsHeader(lws* wsi, lws_token_indexes token);

// The decoded query arguments ("a=1&b" -> {a:"1", b:""}); each at most 2 KiB.
std::map<std::string, std::string> lwsQuery(lws* wsi);

}  // namespace bloomcast
