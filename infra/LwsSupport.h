#pragma once
// Helpers around libwebsockets shared by the HTTP and WebSocket handlers: reading a request's
// headers and query arguments (thread: the loop thread, inside an lws callback for `wsi`), and
// destroying a context that runs on a foreign libuv loop.
#include <libwebsockets.h>
#include <uv.h>

#include <map>
#include <string>

namespace bloomcast {

// One header's value ("" when absent), e.g. WSI_TOKEN_HTTP_AUTHORIZATION.
std::string lwsHeader(lws* wsi, lws_token_indexes token);

// The decoded query arguments ("a=1&b" -> {a:"1", b:""}); each at most 2 KiB.
std::map<std::string, std::string> lwsQuery(lws* wsi);

// lws_context_destroy() for a context on the foreign libuv loop `loop`, from the loop thread.
// libwebsockets 4.1 closes its event pipe (an eventfd) twice in that case: once in
// lws_context_destroy() and again when the pipe's uv_poll handle finishes closing, one loop turn
// later (warmcat/libwebsockets#2514, fixed in 4.3). In between, any thread may be handed that fd
// number and would then lose it — a transcode worker's segment file, or, under UBSan, the
// sanitizer's own probe pipe. This holds the number with a /dev/null placeholder right after the
// first close, so the second close takes the placeholder instead.
void lwsContextDestroyOnUvLoop(lws_context* context, uv_loop_t* loop);

}  // namespace bloomcast
