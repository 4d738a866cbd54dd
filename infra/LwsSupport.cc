#include "infra/LwsSupport.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

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

void lwsContextDestroyOnUvLoop(lws_context* context, uv_loop_t* loop) {
  // lws watches its event pipe (an eventfd on Linux) with a uv_poll handle; every other poll on
  // our loop is a socket.
  std::vector<int> pipe_fds;
  uv_walk(
      loop,
      [](uv_handle_t* handle, void* arg) {
        uv_os_fd_t fd;
        struct stat st;
        if (handle->type != UV_POLL || uv_is_closing(handle) || uv_fileno(handle, &fd) != 0) return;
        if (fstat(fd, &st) == 0 && !S_ISSOCK(st.st_mode)) static_cast<std::vector<int>*>(arg)->push_back(fd);
      },
      &pipe_fds);
  lws_context_destroy(context);
  for (int fd : pipe_fds) {
    if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;  // still open: not closed twice
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0) continue;
    int held = fcntl(null_fd, F_DUPFD_CLOEXEC, fd);  // the lowest free number >= fd: fd itself
    close(null_fd);
    if (held >= 0 && held != fd) close(held);  // another thread took fd first; nothing to hold
  }
}

}  // namespace bloomcast
