#pragma once
// Test support: real processes and real clients for hermetic tests.
//   RedisServer  a redis-server child on a free TCP port or a unix socket in a temp dir
//   TempDir      a directory removed at the end of the test
//   http         a blocking HTTP client (libcurl)
//   Process      a child process (the bloomcast binary) with its output in a file
//   waitUntil    polls a condition until it holds or a deadline passes (event waits for
//                things we cannot subscribe to, such as another process's state)
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bloomcast::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A free TCP port on 127.0.0.1 (bound, then released).
int freePort();

bool waitUntil(const std::function<bool()>& condition,
               std::chrono::milliseconds timeout = std::chrono::seconds(10));

class RedisServer {
 public:
  enum class Mode { Tcp, Unix };
  explicit RedisServer(Mode mode = Mode::Tcp, std::vector<std::string> extra_config = {});
  ~RedisServer();

  // Starts (or restarts, on the same address and data) the server and waits for PING.
  void start();
  void kill9();
  void stop();
  bool running() const { return pid_ > 0; }

  std::string url() const;  // redis://127.0.0.1:PORT or unix:PATH
  int port() const { return port_; }
  // Runs one command with a synchronous hiredis connection; returns the reply as text
  // (integers and status too), or "ERR..." / "(nil)".
  std::string command(const std::vector<std::string>& args) const;

 private:
  Mode mode_;
  std::vector<std::string> extra_config_;
  TempDir dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

struct HttpResult {
  long status = 0;  // 0: no answer (connection refused, timeout)
  int curl_code = 0;  // CURLcode: 7 connection refused, 52 empty reply, 56 reset, 28 timeout
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

HttpResult http(const std::string& method, const std::string& url, const std::string& body = "",
                const std::vector<std::string>& headers = {}, long timeout_ms = 5000);

class Process {
 public:
  Process(std::vector<std::string> argv, std::map<std::string, std::string> env = {});
  ~Process();
  pid_t pid() const { return pid_; }
  void signal(int signum) const;
  // Waits for exit; returns the exit status (or -1 on timeout). 128+N when killed by signal N.
  int wait(std::chrono::milliseconds timeout);
  bool running();
  std::string output() const;  // stdout + stderr so far

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::string log_path_;
};

// A plain TCP client for hostile-input tests: bytes exactly as given, nothing normalised.
class RawSocket {
 public:
  // Connects to 127.0.0.1:port, from `source_ip` when given (every 127.x.y.z is this host, so
  // tests can play several client addresses).
  explicit RawSocket(int port, const std::string& source_ip = "");
  ~RawSocket();
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;
  bool connected() const { return fd_ >= 0; }
  // False once the peer has closed or reset the connection.
  bool send(std::string_view bytes);
  // Reads until done(received so far) holds, the peer closes, or the timeout passes.
  bool readUntil(const std::function<bool(const std::string&)>& done, std::chrono::milliseconds timeout);
  // True when the peer closed (EOF or reset) within the timeout; what it sent is kept.
  bool waitClosed(std::chrono::milliseconds timeout);
  const std::string& received() const { return received_; }
  bool closedByPeer() const { return peer_closed_; }

 private:
  // One poll + read; false when the peer closed or the timeout passed with nothing.
  bool readSome(int timeout_ms);
  int fd_ = -1;
  bool peer_closed_ = false;
  std::string received_;
};

// A masked client WebSocket frame (RFC 6455 5.2): opcode 1 text, 0 continuation, 8 close...
std::string wsClientFrame(int opcode, std::string_view payload, bool fin = true, bool masked = true);

// The bloomcast executable of this build (build/bloomcast).
std::string bloomcastBinary();

// Starts `bloomcast serve` on free ports with the given extra flags and waits until /healthz
// answers (200 or 503), the process exits, or the timeout passes.
struct RunningBloomcast {
  std::unique_ptr<Process> process;
  int http_port = 0;
  int rtmp_port = 0;
  std::string base_url;
};
RunningBloomcast startBloomcast(const std::string& data_dir, std::vector<std::string> extra_flags,
                                std::chrono::milliseconds timeout = std::chrono::seconds(20));

}  // namespace bloomcast::test
