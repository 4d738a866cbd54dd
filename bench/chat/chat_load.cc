// bloomcast_chat_load: a chat load generator for /ws (docs/DESIGN.md "Chat WebSocket protocol").
//
// N receivers and S senders join one room; the senders post R messages/s in total for D seconds;
// every receiver reads every frame and unpacks batches. Prints delivered messages/s (a batch
// counts each message it carries), loss, duplicates, and latency p50/p99/max from send to
// receipt, plus the server's CPU and idle memory per connection when given its pid.
//
//   bloomcast_chat_load --port P --admin-token T [--receivers 1000] [--senders 4] [--rate 100]
//                       [--seconds 10] [--drain-s 5] [--server-pid PID] [--redis-pid PID]
//                       [--label NAME]
//
// Setup goes through the HTTP API as a real deployment would: POST /api/factories and
// POST /api/streams with the admin token (the stream id is the room), POST /api/sessions per
// sender (run the server with --rate-limits off). Receivers join as guests (no token), as most
// viewers do.
//
// Why raw epoll and a hand-written WebSocket client: one process must hold 10,000+ connections
// while reading ~1,000,000 messages/s on a 2-core machine shared with the server under test.
// An lws client context allocates per-connection state sized for general use (rx buffers,
// header tables, its own scheduling) and runs a callback per frame through its state machine;
// here a connection is ~100 bytes plus the unparsed tail of its last read, and each readable
// socket costs one read() into a buffer shared by all connections. The client needs only a
// small part of RFC 6455: the upgrade request, masked text frames out (clients must mask),
// unmasked frames in (text, continuation, ping -> pong, close).
//
// Message format: a sender posts {"type":"chat","text":"b:SENDER:GSEQ:SEND_US"}, GSEQ being a
// run-wide sequence number (0..max) and SEND_US this process's CLOCK_MONOTONIC in µs, so
// latency needs no clock shared with the server. Receivers find every "text":"b:..." in a frame
// (one message or a batch), mark GSEQ in a per-receiver bitset (loss and duplicates exactly) and
// add now - SEND_US to a histogram. The send time is when the frame was written; the worst
// lateness of the sender against its schedule is printed so a client that fell behind shows.
// The server's "ts" (its wall clock in ms when it accepted the message; this machine's clock)
// splits each latency in two: send -> accepted (the sender's frame waiting to be read) and
// accepted -> receipt (store, pub/sub, the tick, the fan-out and this process's reading).
//
// Thread: one (the process's main thread) runs everything.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

// ---- options ----------------------------------------------------------------------------------

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string admin_token;
  int receivers = 1000;
  int senders = 4;
  double rate = 100;         // messages/s, all senders together
  double seconds = 10;       // send phase
  double drain_s = 5;        // after the last send, wait at most this for deliveries
  double join_timeout_s = 60;
  double idle_settle_s = 2;  // between "all joined" and the idle-memory reading
  int connect_burst = 256;   // upgrades in flight at once (the listen backlog is finite)
  int server_pid = 0;
  int redis_pid = 0;
  std::string label = "server";
};

void usage() {
  std::fprintf(stderr,
               "usage: bloomcast_chat_load --port P --admin-token T [--host 127.0.0.1]\n"
               "  [--receivers 1000] [--senders 4] [--rate 100 msg/s total] [--seconds 10]\n"
               "  [--drain-s 5] [--join-timeout-s 60] [--idle-settle-s 2] [--connect-burst 256]\n"
               "  [--server-pid PID] [--redis-pid PID] [--label NAME]\n");
}

std::optional<Options> parseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view k = argv[i];
    if (k == "-h" || k == "--help") return std::nullopt;
    if (i + 1 >= argc) {
      std::fprintf(stderr, "chat_load: %s needs a value\n", argv[i]);
      return std::nullopt;
    }
    const char* v = argv[++i];
    if (k == "--host") o.host = v;
    else if (k == "--port") o.port = std::atoi(v);
    else if (k == "--admin-token") o.admin_token = v;
    else if (k == "--receivers") o.receivers = std::atoi(v);
    else if (k == "--senders") o.senders = std::atoi(v);
    else if (k == "--rate") o.rate = std::atof(v);
    else if (k == "--seconds") o.seconds = std::atof(v);
    else if (k == "--drain-s") o.drain_s = std::atof(v);
    else if (k == "--join-timeout-s") o.join_timeout_s = std::atof(v);
    else if (k == "--idle-settle-s") o.idle_settle_s = std::atof(v);
    else if (k == "--connect-burst") o.connect_burst = std::atoi(v);
    else if (k == "--server-pid") o.server_pid = std::atoi(v);
    else if (k == "--redis-pid") o.redis_pid = std::atoi(v);
    else if (k == "--label") o.label = v;
    else {
      std::fprintf(stderr, "chat_load: unknown option %s\n", argv[i - 1]);
      return std::nullopt;
    }
  }
  if (o.port <= 0 || o.admin_token.empty() || o.receivers < 1 || o.senders < 1 ||
      o.rate < 0 || o.seconds < 0 || o.connect_burst < 1) {
    return std::nullopt;
  }
  return o;
}

// ---- clocks and /proc -------------------------------------------------------------------------

int64_t nowUs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// utime + stime of a process in µs (from /proc/PID/stat, clock-tick resolution), or -1.
int64_t processCpuUs(int pid) {
  if (pid <= 0) return -1;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE* f = std::fopen(path, "r");
  if (!f) return -1;
  char buf[1024];
  std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
  const char* p = std::strrchr(buf, ')');
  if (!p) return -1;
  unsigned long long utime = 0, stime = 0;
  // Fields 3..15 after ')': state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
  if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
    return -1;
  long hz = sysconf(_SC_CLK_TCK);
  return static_cast<int64_t>((utime + stime) * 1000000ULL / static_cast<unsigned long long>(hz));
}

// Resident set size of a process in KiB (VmRSS), or -1.
int64_t processRssKib(int pid) {
  if (pid <= 0) return -1;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/status", pid);
  FILE* f = std::fopen(path, "r");
  if (!f) return -1;
  char line[256];
  int64_t kib = -1;
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, "VmRSS:", 6) == 0) {
      kib = std::atoll(line + 6);
      break;
    }
  }
  std::fclose(f);
  return kib;
}

int64_t selfCpuUs() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

// ---- a blocking HTTP/1.1 client for the few setup calls ----------------------------------------

struct HttpReply {
  int status = 0;  // 0: no answer
  std::string body;
};

int connectTcp(const std::string& host, int port, bool blocking) {
  int fd = socket(AF_INET, SOCK_STREAM | (blocking ? 0 : SOCK_NONBLOCK) | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    close(fd);
    return -1;
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  return fd;
}

// One request on its own connection (Connection: close), 10 s timeout. Chunked bodies are
// decoded; anything else is read to EOF.
HttpReply httpCall(const Options& o, const std::string& method, const std::string& path,
                   const std::string& body, const std::string& bearer) {
  HttpReply reply;
  int fd = connectTcp(o.host, o.port, true);
  if (fd < 0) return reply;
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: " + o.host + "\r\nConnection: close\r\n";
  if (!bearer.empty()) req += "Authorization: Bearer " + bearer + "\r\n";
  req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  for (std::size_t off = 0; off < req.size();) {
    ssize_t n = write(fd, req.data() + off, req.size() - off);
    if (n <= 0) {
      close(fd);
      return reply;
    }
    off += static_cast<std::size_t>(n);
  }
  std::string raw;
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    raw.append(buf, static_cast<std::size_t>(n));
    if (raw.size() > (1u << 20)) break;  // setup answers are small
  }
  close(fd);
  auto head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos || raw.compare(0, 5, "HTTP/") != 0) return reply;
  reply.status = std::atoi(raw.c_str() + raw.find(' ') + 1);
  std::string head = raw.substr(0, head_end);
  std::transform(head.begin(), head.end(), head.begin(), [](unsigned char c) { return std::tolower(c); });
  std::string rest = raw.substr(head_end + 4);
  if (head.find("transfer-encoding: chunked") == std::string::npos) {
    reply.body = std::move(rest);
    return reply;
  }
  for (std::size_t at = 0; at < rest.size();) {
    std::size_t line_end = rest.find("\r\n", at);
    if (line_end == std::string::npos) break;
    std::size_t len = std::strtoul(rest.c_str() + at, nullptr, 16);
    if (len == 0 || line_end + 2 + len > rest.size()) break;
    reply.body.append(rest, line_end + 2, len);
    at = line_end + 2 + len + 2;
  }
  return reply;
}

// The string field `name` of a JSON object reply, or "" (the reason goes to stderr).
std::string jsonField(const HttpReply& r, const char* what, const char* name) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (r.status / 100 != 2 || !j.is_object() || !j.contains(name)) {
    std::fprintf(stderr, "chat_load: %s failed: HTTP %d %s\n", what, r.status, r.body.substr(0, 300).c_str());
    return "";
  }
  const auto& v = j[name];
  return v.is_string() ? v.get<std::string>() : v.dump();
}

// ---- latency histogram ------------------------------------------------------------------------

// 100 µs buckets up to 60 s (2.4 MB), the last bucket catching everything above; the exact
// maximum is kept aside.
class LatencyHistogram {
 public:
  static constexpr int64_t kBucketUs = 100;
  static constexpr std::size_t kBuckets = 600000;

  LatencyHistogram() : counts_(kBuckets + 1, 0) {}
  void add(int64_t us) {
    if (us < 0) us = 0;
    std::size_t b = static_cast<std::size_t>(us / kBucketUs);
    ++counts_[std::min(b, kBuckets)];
    ++total_;
    max_us_ = std::max(max_us_, us);
  }
  // The upper edge of the bucket holding quantile q (0..1), in ms.
  double quantileMs(double q) const {
    if (total_ == 0) return 0;
    uint64_t want = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total_)));
    if (want == 0) want = 1;
    uint64_t seen = 0;
    for (std::size_t b = 0; b <= kBuckets; ++b) {
      seen += counts_[b];
      if (seen >= want) return b == kBuckets ? maxMs() : static_cast<double>((b + 1) * kBucketUs) / 1000.0;
    }
    return maxMs();
  }
  double maxMs() const { return static_cast<double>(max_us_) / 1000.0; }

 private:
  std::vector<uint32_t> counts_;
  uint64_t total_ = 0;
  int64_t max_us_ = 0;
};

// ---- the WebSocket client -----------------------------------------------------------------------

enum class ConnState : uint8_t { kIdle, kConnecting, kUpgrading, kOpen, kClosed };

// One WebSocket client connection. Owned by LoadGenerator::conns_; its epoll data is its index.
struct Conn {
  int fd = -1;
  ConnState state = ConnState::kIdle;
  bool sender = false;
  bool welcomed = false;
  bool want_write = false;  // EPOLLOUT registered
  uint32_t index = 0;       // receiver row in the bitset, or sender number
  std::string in;           // bytes read but not yet a whole frame (usually empty)
  std::string fragments;    // a fragmented message being reassembled (rare)
  std::string out;          // bytes the socket did not take yet
};

// Setup, join, send, drain and report, on one epoll loop. Thread: the main thread only.
class LoadGenerator {
 public:
  explicit LoadGenerator(Options o) : o_(std::move(o)) {}
  int run();

 private:
  bool setup();
  void startConnect(Conn& c);
  void onEvent(Conn& c, uint32_t events, int64_t now_us);
  void onReadable(Conn& c, int64_t now_us);
  // Parses whole frames at the front of `data`; returns the bytes consumed.
  std::size_t parseFrames(Conn& c, const char* data, std::size_t len, int64_t now_us);
  void onMessage(Conn& c, std::string_view text, int64_t now_us);
  void sendFrame(Conn& c, uint8_t opcode, std::string_view payload);
  void flush(Conn& c);
  void setWantWrite(Conn& c, bool want);
  void fail(Conn& c, const char* why);
  void pumpConnects();
  void sendDue(int64_t now_us);
  void poll(int timeout_ms);
  bool allDelivered() const { return delivered_ >= expected(); }
  uint64_t expected() const { return static_cast<uint64_t>(joined_receivers_) * sent_; }

  Options o_;
  std::string room_;
  std::vector<std::string> sender_tokens_;
  int epoll_fd_ = -1;
  std::vector<Conn> conns_;  // receivers first, then senders; never resized after setup
  std::size_t next_to_connect_ = 0;
  int in_flight_ = 0;  // connecting or upgrading, not yet welcomed
  int joined_receivers_ = 0;
  int joined_senders_ = 0;
  int failed_ = 0;
  int closed_by_server_ = 0;
  int error_frames_ = 0;
  std::vector<char> read_buf_ = std::vector<char>(256 * 1024);
  uint32_t mask_state_ = 0x9e3779b9;

  // Send phase.
  bool sending_ = false;
  int64_t send_start_us_ = 0;
  uint64_t max_messages_ = 0;
  uint64_t sent_ = 0;
  int64_t worst_lag_us_ = 0;

  // Receipt.
  std::size_t words_per_receiver_ = 0;
  std::vector<uint64_t> seen_;  // receivers x max_messages_ bits
  uint64_t delivered_ = 0;
  uint64_t duplicates_ = 0;
  uint64_t unknown_ = 0;  // b: texts with a sequence outside this run (should stay 0)
  int64_t last_delivery_us_ = 0;
  LatencyHistogram latency_;
  int64_t realtime_minus_monotonic_us_ = 0;
  LatencyHistogram to_accept_;    // send -> the server's ts
  LatencyHistogram from_accept_;  // the server's ts -> receipt
  // Per message (indexed by GSEQ): its send time and its first and last receipt by any receiver,
  // so the report can tell the wait before the first copy from the spread of one fan-out.
  std::vector<int64_t> sent_at_, first_receipt_, last_receipt_;
};

bool LoadGenerator::setup() {
  auto factory = jsonField(httpCall(o_, "POST", "/api/factories", R"({"name":"chat bench"})", o_.admin_token),
                           "POST /api/factories", "id");
  if (factory.empty()) return false;
  nlohmann::json stream_body = {{"factory_id", factory}, {"title", "chat bench"}};
  room_ = jsonField(httpCall(o_, "POST", "/api/streams", stream_body.dump(), o_.admin_token),
                    "POST /api/streams", "id");
  if (room_.empty()) return false;
  for (int i = 0; i < o_.senders; ++i) {
    nlohmann::json body = {{"name", "bench" + std::to_string(i)}};
    auto token = jsonField(httpCall(o_, "POST", "/api/sessions", body.dump(), ""), "POST /api/sessions", "token");
    if (token.empty()) return false;
    sender_tokens_.push_back(token);
  }
  return true;
}

void LoadGenerator::startConnect(Conn& c) {
  c.fd = connectTcp(o_.host, o_.port, false);
  if (c.fd < 0) {
    fail(c, "socket/connect failed");
    return;
  }
  c.state = ConnState::kConnecting;
  ++in_flight_;
  epoll_event ev{};
  ev.events = EPOLLOUT;  // connect() completes when the socket turns writable
  ev.data.u32 = static_cast<uint32_t>(&c - conns_.data());
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c.fd, &ev);
  c.want_write = true;
}

void LoadGenerator::fail(Conn& c, const char* why) {
  bool joining = c.state == ConnState::kConnecting || c.state == ConnState::kUpgrading ||
                 (c.state == ConnState::kOpen && !c.welcomed);
  if (joining) --in_flight_;
  if (c.state != ConnState::kOpen || !c.welcomed) {
    if (failed_ < 3) std::fprintf(stderr, "chat_load: connection %u failed: %s\n", c.index, why);
    ++failed_;
  } else {
    if (closed_by_server_ < 3) std::fprintf(stderr, "chat_load: connection %u closed: %s\n", c.index, why);
    ++closed_by_server_;
  }
  if (c.fd >= 0) close(c.fd);  // also removes it from the epoll set
  c.fd = -1;
  c.state = ConnState::kClosed;
  std::string().swap(c.in);
  std::string().swap(c.out);
  std::string().swap(c.fragments);
}

void LoadGenerator::setWantWrite(Conn& c, bool want) {
  if (c.want_write == want || c.fd < 0) return;
  epoll_event ev{};
  ev.events = want ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
  ev.data.u32 = static_cast<uint32_t>(&c - conns_.data());
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
  c.want_write = want;
}

void LoadGenerator::flush(Conn& c) {
  while (!c.out.empty()) {
    ssize_t n = write(c.fd, c.out.data(), c.out.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n <= 0) {
      fail(c, "write failed");
      return;
    }
    c.out.erase(0, static_cast<std::size_t>(n));
  }
  setWantWrite(c, !c.out.empty());
}

// Client frames are masked (RFC 6455 5.3); the key only has to be unpredictable to proxies, so
// a xorshift stream will do.
void LoadGenerator::sendFrame(Conn& c, uint8_t opcode, std::string_view payload) {
  if (c.state != ConnState::kOpen) return;
  c.out.push_back(static_cast<char>(0x80 | opcode));
  if (payload.size() < 126) {
    c.out.push_back(static_cast<char>(0x80 | payload.size()));
  } else {  // our frames are far below 64 KiB
    c.out.push_back(static_cast<char>(0x80 | 126));
    c.out.push_back(static_cast<char>(payload.size() >> 8));
    c.out.push_back(static_cast<char>(payload.size() & 0xff));
  }
  mask_state_ ^= mask_state_ << 13;
  mask_state_ ^= mask_state_ >> 17;
  mask_state_ ^= mask_state_ << 5;
  char key[4];
  std::memcpy(key, &mask_state_, 4);
  c.out.append(key, 4);
  for (std::size_t i = 0; i < payload.size(); ++i) c.out.push_back(static_cast<char>(payload[i] ^ key[i & 3]));
  flush(c);
}

void LoadGenerator::onEvent(Conn& c, uint32_t events, int64_t now_us) {
  if (c.state == ConnState::kConnecting) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
      fail(c, err ? std::strerror(err) : "connect failed");
      return;
    }
    // The upgrade request. The key is the RFC's sample nonce: the server only checks its form,
    // and the bench does not check Sec-WebSocket-Accept (it trusts the server it measures).
    std::string path = "/ws?room=" + room_;
    if (c.sender) path += "&token=" + sender_tokens_[c.index];
    c.out = "GET " + path + " HTTP/1.1\r\nHost: " + o_.host + ":" + std::to_string(o_.port) +
            "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n";
    c.state = ConnState::kUpgrading;
    c.want_write = true;  // still registered for EPOLLOUT from connect
    flush(c);
    return;
  }
  if (events & EPOLLIN) onReadable(c, now_us);
  if (c.state == ConnState::kClosed) return;
  if (events & EPOLLOUT) flush(c);
  if (c.state != ConnState::kClosed && (events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN))
    fail(c, "socket error");
}

void LoadGenerator::onReadable(Conn& c, int64_t now_us) {
  // Level-triggered: one read per readiness, so 10,000 sockets each get their turn.
  ssize_t n = read(c.fd, read_buf_.data(), read_buf_.size());
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (n <= 0) {
    fail(c, n == 0 ? "server closed the connection" : std::strerror(errno));
    return;
  }
  const char* data = read_buf_.data();
  std::size_t len = static_cast<std::size_t>(n);
  if (!c.in.empty()) {  // a partial frame from the last read: parse from the joined copy
    c.in.append(data, len);
    std::string joined = std::move(c.in);
    c.in.clear();
    std::size_t used = parseFrames(c, joined.data(), joined.size(), now_us);
    if (c.state != ConnState::kClosed && used < joined.size()) c.in.assign(joined, used);
    return;
  }
  std::size_t used = parseFrames(c, data, len, now_us);
  if (c.state != ConnState::kClosed && used < len) c.in.assign(data + used, len - used);
}

std::size_t LoadGenerator::parseFrames(Conn& c, const char* data, std::size_t len, int64_t now_us) {
  std::size_t at = 0;
  if (c.state == ConnState::kUpgrading) {
    std::string_view view(data, len);
    auto end = view.find("\r\n\r\n");
    if (end == std::string_view::npos) {
      if (len > 8192) fail(c, "upgrade answer too long");
      return 0;
    }
    if (!view.starts_with("HTTP/1.1 101")) {
      fail(c, "upgrade refused");
      return len;
    }
    c.state = ConnState::kOpen;
    at = end + 4;
  }
  while (c.state == ConnState::kOpen && len - at >= 2) {
    const auto* p = reinterpret_cast<const unsigned char*>(data + at);
    bool fin = p[0] & 0x80;
    uint8_t opcode = p[0] & 0x0f;
    bool masked = p[1] & 0x80;
    uint64_t size = p[1] & 0x7f;
    std::size_t header = 2;
    if (size == 126) {
      if (len - at < 4) break;
      size = (uint64_t{p[2]} << 8) | p[3];
      header = 4;
    } else if (size == 127) {
      if (len - at < 10) break;
      size = 0;
      for (int i = 0; i < 8; ++i) size = (size << 8) | p[2 + i];
      header = 10;
    }
    if (masked || size > (64u << 20)) {
      fail(c, masked ? "masked server frame" : "frame above 64 MiB");
      return len;
    }
    if (len - at - header < size) break;  // the rest arrives later
    std::string_view payload(data + at + header, static_cast<std::size_t>(size));
    at += header + static_cast<std::size_t>(size);
    switch (opcode) {
      case 0x0:  // continuation
      case 0x1:  // text
      case 0x2:  // binary (not expected; read as text all the same)
        if (fin && c.fragments.empty()) {
          onMessage(c, payload, now_us);
        } else {
          c.fragments.append(payload);
          if (fin) {
            std::string whole = std::move(c.fragments);
            c.fragments.clear();
            onMessage(c, whole, now_us);
          }
        }
        break;
      case 0x8:
        fail(c, "close frame from the server");
        return len;
      case 0x9:
        sendFrame(c, 0xA, payload);  // pong
        break;
      default:  // pong or reserved: ignore
        break;
    }
  }
  return at;
}

// One server message (possibly a batch). Receivers count every bench text in it.
void LoadGenerator::onMessage(Conn& c, std::string_view text, int64_t now_us) {
  constexpr std::string_view kWelcome = R"({"type":"welcome")";
  constexpr std::string_view kError = R"({"type":"error")";
  if (text.starts_with(kWelcome)) {  // its history holds older messages: not counted
    if (!c.welcomed) {
      c.welcomed = true;
      --in_flight_;
      ++(c.sender ? joined_senders_ : joined_receivers_);
    }
    return;
  }
  if (text.starts_with(kError)) {
    if (error_frames_ < 3)
      std::fprintf(stderr, "chat_load: error frame: %.*s\n", static_cast<int>(std::min<std::size_t>(text.size(), 200)),
                   text.data());
    ++error_frames_;
    return;
  }
  if (c.sender || !c.welcomed || seen_.empty()) return;
  constexpr std::string_view kTag = R"("text":"b:)";
  uint64_t* row = seen_.data() + static_cast<std::size_t>(c.index) * words_per_receiver_;
  for (std::size_t at = text.find(kTag); at != std::string_view::npos; at = text.find(kTag, at)) {
    at += kTag.size();
    // SENDER:GSEQ:SEND_US
    const char* p = text.data() + at;
    const char* end = text.data() + text.size();
    uint64_t sender = 0, seq = 0;
    int64_t sent_us = 0;
    auto r1 = std::from_chars(p, end, sender);
    if (r1.ec != std::errc() || r1.ptr == end || *r1.ptr != ':') continue;
    auto r2 = std::from_chars(r1.ptr + 1, end, seq);
    if (r2.ec != std::errc() || r2.ptr == end || *r2.ptr != ':') continue;
    auto r3 = std::from_chars(r2.ptr + 1, end, sent_us);
    if (r3.ec != std::errc()) continue;
    if (seq >= max_messages_) {
      ++unknown_;
      continue;
    }
    uint64_t bit = uint64_t{1} << (seq & 63);
    uint64_t& word = row[seq >> 6];
    if (word & bit) {
      ++duplicates_;
      continue;
    }
    word |= bit;
    ++delivered_;
    latency_.add(now_us - sent_us);
    last_delivery_us_ = now_us;
    sent_at_[seq] = sent_us;
    if (first_receipt_[seq] == 0) first_receipt_[seq] = now_us;
    last_receipt_[seq] = now_us;
    constexpr std::string_view kTs = R"("ts":)";
    std::string_view rest(r3.ptr, static_cast<std::size_t>(end - r3.ptr));
    if (auto ts_at = rest.find(kTs); ts_at != std::string_view::npos) {
      int64_t ts_ms = 0;
      const char* ts_p = rest.data() + ts_at + kTs.size();
      if (std::from_chars(ts_p, end, ts_ms).ec == std::errc()) {
        int64_t accepted_us = ts_ms * 1000 - realtime_minus_monotonic_us_;
        to_accept_.add(accepted_us - sent_us);
        from_accept_.add(now_us - accepted_us);
      }
    }
  }
}

void LoadGenerator::pumpConnects() {
  while (next_to_connect_ < conns_.size() && in_flight_ < o_.connect_burst) startConnect(conns_[next_to_connect_++]);
}

// Sends every message whose slot (start + k / rate) has come, round-robin over the senders.
void LoadGenerator::sendDue(int64_t now_us) {
  if (!sending_) return;
  double elapsed_s = static_cast<double>(now_us - send_start_us_) / 1e6;
  uint64_t due = std::min<uint64_t>(max_messages_, static_cast<uint64_t>(elapsed_s * o_.rate) + 1);
  std::size_t first_sender = static_cast<std::size_t>(o_.receivers);
  char text[128];
  while (sent_ < due) {
    int64_t slot_us = send_start_us_ + static_cast<int64_t>(static_cast<double>(sent_) / o_.rate * 1e6);
    worst_lag_us_ = std::max(worst_lag_us_, now_us - slot_us);
    uint32_t s = static_cast<uint32_t>(sent_ % static_cast<uint64_t>(o_.senders));
    Conn& c = conns_[first_sender + s];
    int64_t t = nowUs();
    int n = std::snprintf(text, sizeof text, R"({"type":"chat","text":"b:%u:%)" PRIu64 R"(:%)" PRId64 R"("})", s,
                          sent_, t);
    sendFrame(c, 0x1, std::string_view(text, static_cast<std::size_t>(n)));
    ++sent_;  // counted even if this sender's socket is gone: the loss then shows
  }
  if (sent_ >= max_messages_) sending_ = false;
}

void LoadGenerator::poll(int timeout_ms) {
  epoll_event events[1024];
  int n = epoll_wait(epoll_fd_, events, 1024, timeout_ms);
  for (int i = 0; i < n; ++i) {
    Conn& c = conns_[events[i].data.u32];
    if (c.state == ConnState::kClosed) continue;
    onEvent(c, events[i].events, nowUs());  // per event: a batch of 1,024 takes milliseconds
  }
}

int LoadGenerator::run() {
  // One descriptor per connection plus a few: raise the soft limit to the hard one.
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  std::size_t total = static_cast<std::size_t>(o_.receivers) + static_cast<std::size_t>(o_.senders);
  if (rl.rlim_cur < total + 64) {
    std::fprintf(stderr, "chat_load: %zu connections need %zu descriptors; the hard limit is %llu\n", total,
                 total + 64, static_cast<unsigned long long>(rl.rlim_cur));
    return 2;
  }
  if (!setup()) return 1;

  max_messages_ = static_cast<uint64_t>(std::ceil(o_.rate * o_.seconds));
  words_per_receiver_ = static_cast<std::size_t>((max_messages_ + 63) / 64);
  seen_.assign(words_per_receiver_ * static_cast<std::size_t>(o_.receivers), 0);
  sent_at_.assign(max_messages_, 0);
  first_receipt_.assign(max_messages_, 0);
  last_receipt_.assign(max_messages_, 0);
  conns_.resize(total);
  for (std::size_t i = 0; i < total; ++i) {
    conns_[i].sender = i >= static_cast<std::size_t>(o_.receivers);
    conns_[i].index = static_cast<uint32_t>(conns_[i].sender ? i - static_cast<std::size_t>(o_.receivers) : i);
  }
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);

  // Phase 1: join. Memory before and after is the idle cost per connection.
  int64_t rss_before = processRssKib(o_.server_pid);
  int64_t join_start = nowUs();
  int64_t join_deadline = join_start + static_cast<int64_t>(o_.join_timeout_s * 1e6);
  while (nowUs() < join_deadline) {
    pumpConnects();
    if (joined_receivers_ + joined_senders_ + failed_ >= static_cast<int>(total)) break;
    poll(20);
  }
  double join_s = static_cast<double>(nowUs() - join_start) / 1e6;
  int joined = joined_receivers_ + joined_senders_;
  std::fprintf(stderr, "chat_load[%s]: %d of %zu connections joined room %s in %.1f s (%d failed)\n",
               o_.label.c_str(), joined, total, room_.c_str(), join_s, failed_);
  if (joined_senders_ == 0 || joined_receivers_ == 0) {
    std::fprintf(stderr, "chat_load: nobody to send or receive; giving up\n");
    return 1;
  }
  for (int64_t settle_end = nowUs() + static_cast<int64_t>(o_.idle_settle_s * 1e6); nowUs() < settle_end;) poll(20);
  int64_t rss_idle = processRssKib(o_.server_pid);

  // Phase 2: send at the rate, then drain.
  int64_t server_cpu0 = processCpuUs(o_.server_pid);
  int64_t redis_cpu0 = processCpuUs(o_.redis_pid);
  int64_t self_cpu0 = selfCpuUs();
  timespec real{};
  clock_gettime(CLOCK_REALTIME, &real);
  realtime_minus_monotonic_us_ = static_cast<int64_t>(real.tv_sec) * 1000000 + real.tv_nsec / 1000 - nowUs();
  send_start_us_ = nowUs();
  sending_ = max_messages_ > 0;
  int64_t send_deadline = send_start_us_ + static_cast<int64_t>(o_.seconds * 1e6) + 1000000;
  while (sending_ && nowUs() < send_deadline) {
    sendDue(nowUs());
    poll(1);
  }
  int64_t send_end_us = nowUs();
  int64_t drain_deadline = send_end_us + static_cast<int64_t>(o_.drain_s * 1e6);
  while (!allDelivered() && nowUs() < drain_deadline) poll(10);
  int64_t end_us = nowUs();
  int64_t server_cpu = processCpuUs(o_.server_pid) - server_cpu0;
  int64_t redis_cpu = processCpuUs(o_.redis_pid) - redis_cpu0;
  int64_t self_cpu = selfCpuUs() - self_cpu0;
  int64_t rss_loaded = processRssKib(o_.server_pid);

  // Report. Delivered/s is over the window from the first send to the last receipt.
  double send_s = static_cast<double>(send_end_us - send_start_us_) / 1e6;
  double window_s = static_cast<double>(std::max(last_delivery_us_, send_end_us) - send_start_us_) / 1e6;
  double window_all_s = static_cast<double>(end_us - send_start_us_) / 1e6;
  uint64_t want = expected();
  uint64_t lost = want > delivered_ ? want - delivered_ : 0;
  double per_s = window_s > 0 ? static_cast<double>(delivered_) / window_s : 0;
  double loss_pct = want ? 100.0 * static_cast<double>(lost) / static_cast<double>(want) : 0;
  double idle_kib = (o_.server_pid > 0 && joined > 0) ? static_cast<double>(rss_idle - rss_before) / joined : -1;
  double cpu_cores = server_cpu >= 0 && window_all_s > 0 ? static_cast<double>(server_cpu) / 1e6 / window_all_s : -1;
  double redis_cores = redis_cpu >= 0 && window_all_s > 0 ? static_cast<double>(redis_cpu) / 1e6 / window_all_s : -1;
  double cpu_us_per_delivery = server_cpu >= 0 && delivered_ ? static_cast<double>(server_cpu) / static_cast<double>(delivered_) : -1;
  double self_cores = window_all_s > 0 ? static_cast<double>(self_cpu) / 1e6 / window_all_s : 0;

  std::printf("[%s] room %s: %d receivers + %d senders joined in %.1f s (%d failed, %d closed by the server)\n",
              o_.label.c_str(), room_.c_str(), joined_receivers_, joined_senders_, join_s, failed_, closed_by_server_);
  std::printf("[%s] sent %" PRIu64 " messages in %.2f s (%.1f/s; worst sender lag %.1f ms)\n", o_.label.c_str(), sent_,
              send_s, send_s > 0 ? static_cast<double>(sent_) / send_s : 0, static_cast<double>(worst_lag_us_) / 1000.0);
  std::printf("[%s] delivered %" PRIu64 " of %" PRIu64 " (%.0f/s over %.2f s), lost %" PRIu64
              " (%.3f%%), duplicates %" PRIu64 ", error frames %d\n",
              o_.label.c_str(), delivered_, want, per_s, window_s, lost, loss_pct, duplicates_, error_frames_);
  std::printf("[%s] latency send->receipt: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", o_.label.c_str(),
              latency_.quantileMs(0.50), latency_.quantileMs(0.99), latency_.maxMs());
  std::printf("[%s]   split at the server's ts (1 ms resolution): send->accepted p50 %.1f / p99 %.1f ms, "
              "accepted->receipt p50 %.1f / p99 %.1f ms\n",
              o_.label.c_str(), to_accept_.quantileMs(0.50), to_accept_.quantileMs(0.99),
              from_accept_.quantileMs(0.50), from_accept_.quantileMs(0.99));
  LatencyHistogram first, spread;
  for (std::size_t i = 0; i < first_receipt_.size(); ++i) {
    if (first_receipt_[i] == 0) continue;
    first.add(first_receipt_[i] - sent_at_[i]);
    spread.add(last_receipt_[i] - first_receipt_[i]);
  }
  std::printf("[%s]   per message: send->first receipt p50 %.1f / p99 %.1f ms, first->last receipt p50 %.1f / "
              "p99 %.1f / max %.1f ms\n",
              o_.label.c_str(), first.quantileMs(0.50), first.quantileMs(0.99), spread.quantileMs(0.50),
              spread.quantileMs(0.99), spread.maxMs());
  if (o_.server_pid > 0)
    std::printf("[%s] server pid %d: %.2f cores (%.3f µs CPU per delivery), RSS %" PRId64 " -> %" PRId64 " KiB idle (%.2f KiB per connection) -> %" PRId64
                " KiB loaded\n",
                o_.label.c_str(), o_.server_pid, cpu_cores, cpu_us_per_delivery, rss_before, rss_idle, idle_kib, rss_loaded);
  if (o_.redis_pid > 0) std::printf("[%s] redis pid %d: %.2f cores\n", o_.label.c_str(), o_.redis_pid, redis_cores);
  std::printf("[%s] load generator: %.2f cores\n", o_.label.c_str(), self_cores);
  // One line for scripts (bench/chat/run.sh builds its table from it).
  std::printf("RESULT label=%s receivers=%d senders=%d joined=%d failed=%d closed=%d sent=%" PRIu64
              " expected=%" PRIu64 " delivered=%" PRIu64 " lost=%" PRIu64 " dup=%" PRIu64
              " per_s=%.0f p50_ms=%.1f p99_ms=%.1f max_ms=%.1f server_cores=%.2f cpu_us_per_delivery=%.3f"
              " redis_cores=%.2f idle_kib_per_conn=%.2f rss_before_kib=%" PRId64 " rss_idle_kib=%" PRId64
              " client_cores=%.2f sender_lag_ms=%.1f\n",
              o_.label.c_str(), joined_receivers_, joined_senders_, joined, failed_, closed_by_server_, sent_, want,
              delivered_, lost, duplicates_, per_s, latency_.quantileMs(0.50), latency_.quantileMs(0.99),
              latency_.maxMs(), cpu_cores, cpu_us_per_delivery, redis_cores, idle_kib, rss_before, rss_idle,
              self_cores, static_cast<double>(worst_lag_us_) / 1000.0);
  std::fflush(stdout);
  for (auto& c : conns_)
    if (c.fd >= 0) close(c.fd);
  close(epoll_fd_);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto options = parseOptions(argc, argv);
  if (!options) {
    usage();
    return 2;
  }
  LoadGenerator gen(std::move(*options));
  return gen.run();
}
