#include "TestSupport.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace bloomcast::test {
namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "bloomcast-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

int freePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    throw std::runtime_error("bind failed");
  }
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

bool waitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

// ---- RedisServer ------------------------------------------------------------------------------

RedisServer::RedisServer(Mode mode, std::vector<std::string> extra_config)
    : mode_(mode), extra_config_(std::move(extra_config)) {
  start();
}

RedisServer::~RedisServer() { stop(); }

std::string RedisServer::url() const {
  if (mode_ == Mode::Unix) return "unix:" + dir_.path() + "/redis.sock";
  return "redis://127.0.0.1:" + std::to_string(port_);
}

// In a forked child before exec: the child is killed when the test process dies (an ASan abort,
// a crash, a kill), so no redis-server or bloomcast outlives it holding its pipes and ports.
// PR_SET_PDEATHSIG follows the forking *thread*: the helpers below fork from the test's thread.
namespace {
void dieWithParent(pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(1);  // the parent died before prctl
}
}  // namespace

void RedisServer::start() {
  if (pid_ > 0) return;
  if (mode_ == Mode::Tcp && port_ == 0) port_ = freePort();
  std::string conf = dir_.path() + "/redis.conf";
  {
    std::ofstream out(conf, std::ios::trunc);
    out << "bind 127.0.0.1\nport " << (mode_ == Mode::Tcp ? port_ : 0) << "\n"
        << "dir " << dir_.path() << "\nsave \"\"\nappendonly no\ndaemonize no\n"
        << "logfile " << dir_.path() << "/redis.log\n";
    if (mode_ == Mode::Unix) out << "unixsocket " << dir_.path() << "/redis.sock\n";
    for (const auto& line : extra_config_) out << line << "\n";
  }
  pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0) {
    dieWithParent(parent);
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 1);
    execlp("redis-server", "redis-server", conf.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  bool up = waitUntil([&] { return command({"PING"}) == "PONG"; }, std::chrono::seconds(10));
  if (!up) throw std::runtime_error("redis-server did not start");
}

void RedisServer::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void RedisServer::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

std::string RedisServer::command(const std::vector<std::string>& args) const {
  timeval tv{1, 0};
  redisContext* c = mode_ == Mode::Unix
                        ? redisConnectUnixWithTimeout((dir_.path() + "/redis.sock").c_str(), tv)
                        : redisConnectWithTimeout("127.0.0.1", port_, tv);
  if (!c || c->err) {
    if (c) redisFree(c);
    return "ERR connect";
  }
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.c_str());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
  std::string out;
  if (!r) out = "ERR io";
  else if (r->type == REDIS_REPLY_INTEGER) out = std::to_string(r->integer);
  else if (r->type == REDIS_REPLY_NIL) out = "(nil)";
  else if (r->type == REDIS_REPLY_ARRAY) out = "(array " + std::to_string(r->elements) + ")";
  else out.assign(r->str, r->len);
  if (r) freeReplyObject(r);
  redisFree(c);
  return out;
}

// ---- HTTP -------------------------------------------------------------------------------------

namespace {
size_t onBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}
size_t onHeader(char* data, size_t size, size_t n, void* user) {
  std::string line(data, size * n);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    value.erase(value.find_last_not_of("\r\n ") + 1);
    (*static_cast<std::map<std::string, std::string>*>(user))[name] = value;
  }
  return size * n;
}
}  // namespace

HttpResult http(const std::string& method, const std::string& url, const std::string& body,
                const std::vector<std::string>& headers, long timeout_ms) {
  HttpResult result;
  CURL* curl = curl_easy_init();
  curl_slist* list = nullptr;
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  if (!body.empty() || method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, onBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, onHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &result.headers);
  CURLcode code = curl_easy_perform(curl);
  result.curl_code = static_cast<int>(code);
  if (code == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return result;
}

// ---- Process ----------------------------------------------------------------------------------

Process::Process(std::vector<std::string> argv, std::map<std::string, std::string> env) {
  char tmpl[] = "/tmp/bloomcast-proc-XXXXXX";
  int fd = mkstemp(tmpl);
  log_path_ = tmpl;
  pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0) {
    dieWithParent(parent);
    dup2(fd, 1);
    dup2(fd, 2);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(fd);
}

Process::~Process() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  unlink(log_path_.c_str());
}

void Process::signal(int signum) const { ::kill(pid_, signum); }

bool Process::running() {
  if (status_ != -1) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

int Process::wait(std::chrono::milliseconds timeout) {
  waitUntil([&] { return !running(); }, timeout);
  return status_;
}

std::string Process::output() const {
  std::ifstream in(log_path_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string bloomcastBinary() { return BLOOMCAST_BINARY; }

RunningBloomcast startBloomcast(const std::string& data_dir, std::vector<std::string> extra_flags,
                                std::chrono::milliseconds timeout) {
  RunningBloomcast b;
  b.http_port = freePort();
  b.rtmp_port = freePort();
  std::vector<std::string> argv = {bloomcastBinary(), "serve",
                                   "--bind", "127.0.0.1",
                                   "--http-port", std::to_string(b.http_port),
                                   "--rtmp-port", std::to_string(b.rtmp_port),
                                   "--data-dir", data_dir,
                                   "--log-level", "debug"};
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  b.process = std::make_unique<Process>(argv);
  b.base_url = "http://127.0.0.1:" + std::to_string(b.http_port);
  // Ready once /healthz answers at all (503 is an answer: Redis may be down on purpose).
  waitUntil([&] { return !b.process->running() || http("GET", b.base_url + "/healthz", "", {}, 500).status != 0; },
            timeout);
  return b;
}

// ---- RawSocket ---------------------------------------------------------------------------------

RawSocket::RawSocket(int port, const std::string& source_ip) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return;
  if (!source_ip.empty()) {
    sockaddr_in from{};
    from.sin_family = AF_INET;
    inet_pton(AF_INET, source_ip.c_str(), &from.sin_addr);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
      close(fd_);
      fd_ = -1;
      return;
    }
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    close(fd_);
    fd_ = -1;
  }
}

RawSocket::~RawSocket() {
  if (fd_ >= 0) close(fd_);
}

bool RawSocket::send(std::string_view bytes) {
  if (fd_ < 0 || peer_closed_) return false;
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      peer_closed_ = true;
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool RawSocket::readSome(int timeout_ms) {
  if (fd_ < 0 || peer_closed_) return false;
  pollfd p{fd_, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return false;
  char buf[16384];
  ssize_t n = recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) {
    peer_closed_ = true;
    return false;
  }
  received_.append(buf, static_cast<std::size_t>(n));
  return true;
}

bool RawSocket::readUntil(const std::function<bool(const std::string&)>& done,
                          std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (!done(received_)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0 || peer_closed_) return done(received_);
    readSome(static_cast<int>(left.count()));
  }
  return true;
}

bool RawSocket::waitClosed(std::chrono::milliseconds timeout) {
  readUntil([this](const std::string&) { return peer_closed_; }, timeout);
  return peer_closed_;
}

std::string wsClientFrame(int opcode, std::string_view payload, bool fin, bool masked) {
  std::string f;
  f += static_cast<char>((fin ? 0x80 : 0) | (opcode & 0x0f));
  uint8_t mask_bit = masked ? 0x80 : 0;
  if (payload.size() < 126) {
    f += static_cast<char>(mask_bit | payload.size());
  } else if (payload.size() < 65536) {
    f += static_cast<char>(mask_bit | 126);
    f += static_cast<char>(payload.size() >> 8);
    f += static_cast<char>(payload.size() & 0xff);
  } else {
    f += static_cast<char>(mask_bit | 127);
    for (int i = 7; i >= 0; --i) f += static_cast<char>((payload.size() >> (8 * i)) & 0xff);
  }
  const unsigned char key[4] = {0x12, 0x34, 0x56, 0x78};
  if (masked) f.append(reinterpret_cast<const char*>(key), 4);
  for (std::size_t i = 0; i < payload.size(); ++i)
    f += static_cast<char>(masked ? payload[i] ^ key[i % 4] : payload[i]);
  return f;
}

}  // namespace bloomcast::test
