#include "infra/RedisClient.h"

#include <hiredis/async.h>
#include <unistd.h>
#include <uv.h>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

namespace bloomcast {
namespace {

Error unavailable(const std::string& why) { return Error{"store_unavailable", "redis: " + why}; }

// The loop turn's monotonic clock in ms (the clock uv_hrtime reads): sends and replies are
// stamped with it, as many as a turn has, for one clock read.
uint64_t turnMs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(loopTurnClock().time_since_epoch()).count());
}

std::string sha1Hex(const std::string& text) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

// ---- hiredis on the shared loop ----------------------------------------------------------------
//
// Our own hiredis event adapter instead of hiredis's adapters/libuv.h. That one calls
// uv_poll_start on every hook call — after every command and every write — and libuv's
// uv_poll_start takes the fd out of epoll and puts it back each time: two epoll_ctl calls per
// command, the biggest system-call cost of an order. This one
//   - keeps the socket's poll armed for reads from the first read on, and changes the poll
//     only when the events wanted actually change;
//   - writes commands once per loop turn, from a uv_prepare handle (run just before the loop
//     blocks), so every command issued during a turn leaves in one write() — pipelining across
//     HTTP requests — and the poll is armed for writes only when a write could not finish.
// Until the socket is connected, hiredis's write hook means "tell me when connect() finishes",
// so it arms the poll for writes as the stock adapter does.
constexpr std::size_t kKeptOutputBytes = 256 * 1024;  // a larger write buffer is freed when empty

struct LoopWatch {
  redisAsyncContext* context = nullptr;  // null once hiredis has let go of it
  void (*read)(redisAsyncContext*) = &redisAsyncHandleRead;  // what a readable socket calls
  uv_poll_t poll{};
  uv_prepare_t flush{};
  int wanted = 0;  // UV_READABLE | UV_WRITABLE, as hiredis asked
  int armed = 0;   // what the poll is started with
  bool flushing = false;
  int open_handles = 2;

  void sync() {
    if (wanted == armed || !context) return;
    if (wanted) uv_poll_start(&poll, wanted, &LoopWatch::onPoll);
    else uv_poll_stop(&poll);
    armed = wanted;
  }

  static LoopWatch* of(void* privdata) { return static_cast<LoopWatch*>(privdata); }

  static void onPoll(uv_poll_t* handle, int status, int events) {
    auto* w = static_cast<LoopWatch*>(handle->data);
    if (status != 0) return;  // as hiredis's own adapter: a hang-up arrives as a readable EOF
    if (w->context && (events & UV_READABLE)) w->read(w->context);
    if (w->context && (events & UV_WRITABLE)) redisAsyncHandleWrite(w->context);
  }

  static void onFlush(uv_prepare_t* handle) {
    auto* w = static_cast<LoopWatch*>(handle->data);
    uv_prepare_stop(handle);
    if (!w->context) return;
    if (w->writeWhole()) return;
    w->flushing = true;
    redisAsyncHandleWrite(w->context);  // a write that cannot finish re-arms through addWrite
    w->flushing = false;
  }

  // The turn's commands in one write() that keeps the output buffer. hiredis's own write frees
  // the buffer once it is all written and starts an empty one, so every turn's commands (~20 KiB
  // for 50 orders) regrew it by four reallocs, and the free of the large block made glibc
  // consolidate its fast bins. False when the write did not take everything: whatever it took is
  // dropped from the buffer and hiredis's write goes on with the rest (waiting for the socket,
  // or reporting the error and disconnecting).
  bool writeWhole() {
    redisContext* c = &context->c;
    if (!(c->flags & REDIS_CONNECTED) || c->err) return false;
    std::size_t len = sdslen(c->obuf);
    if (len == 0) return true;
    ssize_t n = ::write(c->fd, c->obuf, len);
    if (n < 0) return false;
    if (static_cast<std::size_t>(n) < len) {
      sdsrange(c->obuf, static_cast<int>(n), -1);
      return false;
    }
    if (sdsalloc(c->obuf) <= kKeptOutputBytes) {
      sdsclear(c->obuf);
    } else {  // a rare burst: hand the memory back, as hiredis does
      sdsfree(c->obuf);
      c->obuf = sdsempty();
    }
    return true;
  }

  static void addRead(void* privdata) {
    auto* w = of(privdata);
    w->wanted |= UV_READABLE;
    w->sync();
  }
  static void delRead(void* privdata) {
    auto* w = of(privdata);
    w->wanted &= ~UV_READABLE;
    w->sync();
  }
  static void addWrite(void* privdata) {
    auto* w = of(privdata);
    bool connected = w->context && (w->context->c.flags & REDIS_CONNECTED);
    if (!connected || w->flushing) {
      w->wanted |= UV_WRITABLE;  // connect() in progress, or the socket is full: wait for it
      w->sync();
    } else if (!(w->wanted & UV_WRITABLE)) {
      uv_prepare_start(&w->flush, &LoopWatch::onFlush);
    }
  }
  static void delWrite(void* privdata) {
    auto* w = of(privdata);
    w->wanted &= ~UV_WRITABLE;
    w->sync();
  }
  static void cleanup(void* privdata) {
    auto* w = of(privdata);
    w->context = nullptr;
    auto closed = [](uv_handle_t* h) {
      auto* watch = static_cast<LoopWatch*>(h->data);
      if (--watch->open_handles == 0) delete watch;
    };
    uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&w->flush), closed);
  }

  static bool attach(redisAsyncContext* ac, uv_loop_t* loop, void (*read)(redisAsyncContext*)) {
    auto* w = new LoopWatch;
    w->read = read;
    if (uv_poll_init(loop, &w->poll, ac->c.fd) != 0) {
      delete w;
      return false;
    }
    uv_prepare_init(loop, &w->flush);
    w->poll.data = w;
    w->flush.data = w;
    w->context = ac;
    ac->ev.data = w;
    ac->ev.addRead = &LoopWatch::addRead;
    ac->ev.delRead = &LoopWatch::delRead;
    ac->ev.addWrite = &LoopWatch::addWrite;
    ac->ev.delWrite = &LoopWatch::delWrite;
    ac->ev.cleanup = &LoopWatch::cleanup;
    return true;
  }
};

}  // namespace

// ---- RedisReply / RedisAddress ----------------------------------------------------------------

RedisReply RedisReply::fromHiredis(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING: out.type = Type::String; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_STATUS: out.type = Type::Status; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_ERROR: out.type = Type::Error; out.str.assign(r->str, r->len); break;
    case REDIS_REPLY_INTEGER: out.type = Type::Integer; out.integer = r->integer; break;
    case REDIS_REPLY_ARRAY:
      out.type = Type::Array;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(fromHiredis(r->element[i]));
      break;
    default: out.type = Type::Nil; break;
  }
  return out;
}

// ---- replies built straight into RedisReply ------------------------------------------------------
//
// hiredis's reader builds a redisReply tree (an allocation per element and per string), which
// fromHiredis then copies: ~9 allocations for an order's three-element reply. Command
// connections give the reader these functions instead, so it builds the RedisReply itself: one
// allocation for the root and one per array. The root starts with a redisReply header because
// hiredis's async code reads `type` and `str` of a reply that arrives with no command waiting
// (Redis's "max clients" error, say) before it drops the connection.
namespace {

struct ReplyRoot {
  redisReply header{};  // type, and str/len for an error; nothing else is read
  RedisReply value;
};

// Where the reader's next value goes. hiredis keeps the object of the root task as the reply
// and the object of an array task as the parent of its elements: the root's object is the
// ReplyRoot, every other one the element's RedisReply in its parent's (presized) elements.
struct Slot {
  RedisReply& value;
  void* object;
  ReplyRoot* root;  // null below the root
};

// Roots of replies already handled, for the next replies: a reply's root is freed right after
// its callback, so a few serve a whole burst of replies without an allocation each. Their
// values were moved out to the callbacks; newRoot resets them.
constexpr std::size_t kSpareRoots = 64;
thread_local std::vector<std::unique_ptr<ReplyRoot>> spare_roots;

ReplyRoot* newRoot() {
  if (spare_roots.empty()) return new ReplyRoot;
  ReplyRoot* root = spare_roots.back().release();
  spare_roots.pop_back();
  root->header = {};
  root->value.type = RedisReply::Type::Nil;
  root->value.str.clear();
  root->value.integer = 0;
  root->value.elements.clear();
  return root;
}

Slot slotFor(const redisReadTask* task, int hiredis_type) {
  if (!task->parent) {
    auto* root = newRoot();
    root->header.type = hiredis_type;
    return {root->value, root, root};
  }
  const redisReadTask* parent = task->parent;
  RedisReply& container = parent->parent ? *static_cast<RedisReply*>(parent->obj)
                                         : static_cast<ReplyRoot*>(parent->obj)->value;
  RedisReply& element = container.elements[static_cast<std::size_t>(task->idx)];
  return {element, &element, nullptr};
}

void* createString(const redisReadTask* task, char* str, size_t len) {
  Slot s = slotFor(task, task->type);
  s.value.type = task->type == REDIS_REPLY_ERROR    ? RedisReply::Type::Error
                 : task->type == REDIS_REPLY_STATUS ? RedisReply::Type::Status
                                                    : RedisReply::Type::String;
  s.value.str.assign(str, len);
  if (s.root) {
    s.root->header.str = s.value.str.data();
    s.root->header.len = s.value.str.size();
  }
  return s.object;
}

void* createArray(const redisReadTask* task, int elements) {
  Slot s = slotFor(task, REDIS_REPLY_ARRAY);
  s.value.type = RedisReply::Type::Array;
  if (elements > 0) s.value.elements.resize(static_cast<std::size_t>(elements));
  return s.object;
}

void* createInteger(const redisReadTask* task, long long value) {
  Slot s = slotFor(task, REDIS_REPLY_INTEGER);
  s.value.type = RedisReply::Type::Integer;
  s.value.integer = value;
  return s.object;
}

void* createNil(const redisReadTask* task) {
  Slot s = slotFor(task, REDIS_REPLY_NIL);
  s.value.type = RedisReply::Type::Nil;
  return s.object;
}

// Called for roots only: the reply after its callback, or a half-built one on a protocol error.
void freeReply(void* reply) {
  std::unique_ptr<ReplyRoot> root(static_cast<ReplyRoot*>(reply));
  if (spare_roots.size() < kSpareRoots) spare_roots.push_back(std::move(root));
}

redisReplyObjectFunctions kReplyFunctions = {createString, createArray, createInteger, createNil,
                                             freeReply};

}  // namespace

std::string RedisAddress::describe() const {
  return unix_path.empty() ? "redis://" + host + ":" + std::to_string(port) : "unix:" + unix_path;
}

std::expected<RedisAddress, Error> parseRedisAddress(std::string_view url) {
  RedisAddress a;
  auto bad = [&](std::string why) {
    return std::unexpected(Error{"bad_config", "redis address '" + std::string(url) + "': " + why});
  };
  if (url.starts_with("unix://")) url.remove_prefix(7), a.unix_path = std::string(url);
  else if (url.starts_with("unix:")) url.remove_prefix(5), a.unix_path = std::string(url);
  else if (url.starts_with("redis://")) {
    std::string_view rest = url.substr(8);
    if (auto slash = rest.find('/'); slash != std::string_view::npos) {
      if (rest.substr(slash) != "/" && rest.substr(slash) != "/0") return bad("only database 0 is supported");
      rest = rest.substr(0, slash);
    }
    auto colon = rest.rfind(':');
    a.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) {
      auto p = rest.substr(colon + 1);
      auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), a.port);
      if (ec != std::errc() || ptr != p.data() + p.size() || a.port <= 0 || a.port > 65535)
        return bad("bad port");
    }
    if (a.host.empty()) return bad("missing host");
    return a;
  } else {
    return bad("expected redis://HOST:PORT or unix:PATH");
  }
  if (a.unix_path.empty()) return bad("missing socket path");
  return a;
}

// ---- RedisConnection --------------------------------------------------------------------------

RedisConnection::RedisConnection(EventLoop& loop, RedisAddress address, RedisOptions options,
                                 std::string name)
    : loop_(loop),
      address_(std::move(address)),
      options_(options),
      name_(std::move(name)),
      backoff_ms_(options.backoff_min_ms),
      redial_timer_(loop),
      connect_timer_(loop),
      timeout_timer_(loop) {}

RedisConnection::~RedisConnection() {
  if (reading_alive_) *reading_alive_ = false;
  close();
}

void RedisConnection::start() {
  loop_.assertInLoopThread();
  closing_ = false;
  if (!ctx_) dial();
}

void RedisConnection::close() {
  closing_ = true;
  redial_timer_.stop();
  connect_timer_.stop();
  timeout_timer_.stop();
  if (ctx_) {
    redisAsyncContext* c = ctx_;
    ctx_ = nullptr;
    connected_ = false;
    redisAsyncFree(c);
  }
  failAll("connection closed");
}

void RedisConnection::dial() {
  ++dials_;
  ctx_ = address_.unix_path.empty() ? redisAsyncConnect(address_.host.c_str(), address_.port)
                                    : redisAsyncConnectUnix(address_.unix_path.c_str());
  if (!ctx_ || ctx_->err) {
    if (ctx_) {
      spdlog::debug("{}: connect to {} failed: {}", name_, address_.describe(), ctx_->errstr);
      redisAsyncFree(ctx_);
    }
    ctx_ = nullptr;
    scheduleRedial();
    return;
  }
  ctx_->data = this;
  own_replies_ = !on_push;  // subscriber mode needs hiredis's own redisReply (on_push, pub/sub)
  if (own_replies_) ctx_->c.reader->fn = &kReplyFunctions;
  if (!LoopWatch::attach(ctx_, loop_.uv(), own_replies_ ? &RedisConnection::readReplies : &redisAsyncHandleRead)) {
    spdlog::warn("{}: cannot watch the socket to {}", name_, address_.describe());
    redisAsyncFree(ctx_);
    ctx_ = nullptr;
    scheduleRedial();
    return;
  }
  redisAsyncSetConnectCallback(ctx_, &RedisConnection::onConnect);
  redisAsyncSetDisconnectCallback(ctx_, &RedisConnection::onDisconnect);
  connect_timer_.start(options_.connect_timeout_ms, 0, [this] {
    if (connected_ || !ctx_) return;
    redisAsyncContext* c = ctx_;
    ctx_ = nullptr;
    redisAsyncFree(c);
    spdlog::warn("{}: connect to {} timed out", name_, address_.describe());
    scheduleRedial();
  });
}

void RedisConnection::scheduleRedial() {
  if (closing_) return;
  uint64_t wait_ms = backoff_ms_;
  backoff_ms_ = std::min(backoff_ms_ * 2, options_.backoff_max_ms);
  redial_timer_.start(wait_ms, 0, [this] {
    ++reconnects_;
    if (!closing_ && !ctx_) dial();
  });
}

void RedisConnection::onConnect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisConnection*>(ac->data);
  if (self->ctx_ != ac) return;
  self->connect_timer_.stop();
  if (status != REDIS_OK) {
    // hiredis frees the context after this callback.
    spdlog::debug("{}: connect to {} failed: {}", self->name_, self->address_.describe(), ac->errstr);
    self->ctx_ = nullptr;
    self->scheduleRedial();
    return;
  }
  self->connected_ = true;
  self->next_reply_id_ = self->next_id_;  // the first command sent on this connection
  self->backoff_ms_ = self->options_.backoff_min_ms;
  // hiredis starts watching a socket for reads only after its first write: without one, a
  // server that dies before we send anything would go unnoticed until the next command.
  self->command({"PING"}, {});
  spdlog::info("{}: connected to {}", self->name_, self->address_.describe());
  if (self->on_connect) self->on_connect();
}

void RedisConnection::onDisconnect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisConnection*>(ac->data);
  if (self->ctx_ != ac) return;  // we dropped it ourselves
  self->ctx_ = nullptr;          // hiredis frees it after this callback
  self->lost(status == REDIS_OK ? "connection closed" : std::string("connection lost: ") + ac->errstr);
}

void RedisConnection::lost(const std::string& why) {
  bool was_connected = connected_;
  connected_ = false;
  failAll(why);  // first, so that callers learn the real cause, not "connection lost"
  if (ctx_) {
    redisAsyncContext* c = ctx_;
    ctx_ = nullptr;
    redisAsyncFree(c);
  }
  if (was_connected) {
    spdlog::warn("{}: {} ({})", name_, why, address_.describe());
    if (on_disconnect) on_disconnect();
  }
  scheduleRedial();
}

void RedisConnection::failAll(const std::string& why) {
  auto pending = std::move(pending_);
  pending_.clear();
  unanswered_ = 0;
  for (auto& p : pending) {
    if (!p.answered && p.cb) p.cb(std::unexpected(unavailable(why)));
  }
}

namespace {
bool isNoScript(void* reply, bool own_replies) {
  constexpr std::string_view kNoScript = "NOSCRIPT";
  if (own_replies) {
    const RedisReply& r = static_cast<ReplyRoot*>(reply)->value;
    return r.isError() && r.str.starts_with(kNoScript);
  }
  const auto* r = static_cast<const redisReply*>(reply);
  return r->type == REDIS_REPLY_ERROR && std::string_view(r->str, r->len).starts_with(kNoScript);
}
}  // namespace

void RedisConnection::onReply(redisAsyncContext* ac, void* reply, void* privdata) {
  auto* self = static_cast<RedisConnection*>(ac->data);
  if (reply) self->last_reply_ms_ = turnMs();
  auto id = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(privdata));
  auto& pending = self->pending_;
  // Not found: it already failed (timeout or lost), with the entries before a reconnect.
  if (pending.empty() || id < pending.front().id || id - pending.front().id >= pending.size()) return;
  Pending& p = pending[id - pending.front().id];
  if (p.answered) return;
  p.answered = true;
  --self->unanswered_;
  RedisCallback cb = std::move(p.cb);
  std::string resp = std::move(p.resp);
  const std::string* script_name = p.script_name;
  const std::string* script_source = p.script_source;
  while (!pending.empty() && pending.front().answered) pending.pop_front();
  if (script_source && reply && isNoScript(reply, self->own_replies_)) {
    // Load, then send the call again, once. Both go on this connection, so the load runs first.
    spdlog::info("redis: script {} missing on server, reloading", *script_name);
    self->command({"SCRIPT", "LOAD", *script_source}, {});
    self->commandResp(resp, std::move(cb));
    self->giveBack(std::move(resp));
    return;
  }
  if (script_source) self->giveBack(std::move(resp));
  if (!cb) return;
  if (!reply) cb(std::unexpected(unavailable("connection lost")));
  else if (self->own_replies_) cb(std::move(static_cast<ReplyRoot*>(reply)->value));
  else cb(RedisReply::fromHiredis(static_cast<redisReply*>(reply)));
}

// A command connection's commands and replies bypass hiredis's async layer, which costs per
// command a callback node (malloc and free), three strncasecmp for (un)subscribe, a copy of the
// command into its buffer through the formatter's checks, and the callback list's bookkeeping:
// ~6% of an order's user-space instructions. Redis answers in order, so the n-th reply on a connection is for the
// n-th command sent on it: the command goes straight into hiredis's output buffer (which the
// loop watch writes once per turn), and each reply the reader gives answers the next id.
// hiredis still connects, reads the socket, parses replies (with kReplyFunctions) and writes
// what the socket did not take at once.
bool RedisConnection::append(std::string_view resp) {
  redisContext* c = &ctx_->c;
  if (c->flags & (REDIS_DISCONNECTING | REDIS_FREEING)) return false;
  sds grown = sdscatlen(c->obuf, resp.data(), resp.size());
  if (!grown) return false;
  c->obuf = grown;
  ctx_->ev.addWrite(ctx_->ev.data);  // written at the end of the turn (LoopWatch::onFlush)
  return true;
}

void RedisConnection::readReplies(redisAsyncContext* ac) {
  redisContext* c = &ac->c;
  if (!(c->flags & REDIS_CONNECTED)) {  // the connect completing: hiredis's
    redisAsyncHandleRead(ac);
    return;
  }
  auto* self = static_cast<RedisConnection*>(ac->data);
  if (redisBufferRead(c) == REDIS_ERR) {
    self->lost(std::string("connection lost: ") + c->errstr);
    return;
  }
  // A callback may close this connection (its context is then freed; a new one may even be
  // dialled at the same address) or destroy it.
  bool alive = true;
  self->reading_alive_ = &alive;
  const uint64_t dial = self->dials_;
  while (self->ctx_ == ac && self->dials_ == dial) {
    void* reply = nullptr;
    if (redisGetReplyFromReader(c, &reply) == REDIS_ERR) {
      self->lost(std::string("connection lost: ") + c->errstr);  // its failures' callbacks may destroy it
      if (!alive) return;
      break;
    }
    if (!reply) break;
    onReply(ac, reply, reinterpret_cast<void*>(uintptr_t(self->next_reply_id_++)));
    freeReply(reply);
    if (!alive) return;
  }
  self->reading_alive_ = nullptr;
}

void RedisConnection::onPush(redisAsyncContext* ac, void* reply, void*) {
  auto* self = static_cast<RedisConnection*>(ac->data);
  if (reply && self->on_push) self->on_push(static_cast<redisReply*>(reply));
}

namespace {

// One command in RESP: "*COUNT\r\n", then "$LENGTH\r\nARGUMENT\r\n" per argument. The bytes are
// counted first and written in place: `out` grows once, where appending piece by piece took five
// appends per argument (an order's script call has 17 arguments).
// A prepared script call is written in two pieces: its first arguments with a "*COUNT" line
// for all of them (`total`: the command's whole count), and the rest with none (`CountLine::None`).
enum class CountLine { Write, None };

template <typename Text>
void appendResp(std::string& out, std::initializer_list<std::span<const Text>> parts,
                std::size_t total = 0, CountLine count_line = CountLine::Write) {
  auto digits = [](std::size_t n) {
    std::size_t d = 1;
    for (; n >= 10; n /= 10) ++d;
    return d;
  };
  std::size_t count = 0;
  std::size_t bytes = 0;
  for (auto part : parts) {
    for (const auto& arg : part) {
      ++count;
      bytes += 1 + digits(arg.size()) + 2 + arg.size() + 2;
    }
  }
  bool with_count = count_line == CountLine::Write;
  if (total > 0) count = total;
  if (with_count) bytes += 1 + digits(count) + 2;
  std::size_t start = out.size();
  // The callback returns the size itself: when libstdc++ 12 grows the string here, it hands the
  // callback the grown capacity (up to twice the old one) instead of the size asked for.
  out.resize_and_overwrite(start + bytes, [&](char* data, std::size_t) {
    char* p = data + start;
    auto number = [&p](char tag, std::size_t n) {
      *p++ = tag;
      p = std::to_chars(p, p + 20, n).ptr;  // room for it was counted above
      *p++ = '\r';
      *p++ = '\n';
    };
    if (with_count) number('*', count);
    for (auto part : parts) {
      for (const auto& arg : part) {
        number('$', arg.size());
        p = std::copy(arg.begin(), arg.end(), p);
        *p++ = '\r';
        *p++ = '\n';
      }
    }
    return start + bytes;
  });
}

}  // namespace

void appendRespCommand(std::string& out, std::initializer_list<std::span<const std::string>> parts) {
  appendResp(out, parts);
}

void appendRespCommand(std::string& out, std::initializer_list<std::span<const std::string_view>> parts) {
  appendResp(out, parts);
}

void RedisConnection::command(const std::vector<std::string>& args, RedisCallback cb,
                              uint64_t timeout_ms) {
  std::string resp;
  appendRespCommand(resp, {args});
  commandResp(resp, std::move(cb), timeout_ms);
}

void RedisConnection::commandResp(std::string_view resp, RedisCallback cb, uint64_t timeout_ms) {
  send(resp, cb, timeout_ms);
}

void RedisConnection::scriptCommand(std::string resp, const std::string& name,
                                    const std::string& source, RedisCallback cb) {
  Pending* p = send(resp, cb, 0);  // hiredis has copied the bytes: `resp` may move now
  if (!p) {
    giveBack(std::move(resp));
    return;
  }
  p->resp = std::move(resp);
  p->script_name = &name;
  p->script_source = &source;
}

RedisConnection::Pending* RedisConnection::send(std::string_view resp, RedisCallback& cb,
                                                uint64_t timeout_ms) {
  loop_.assertInLoopThread();
  if (!connected_ || !ctx_) {
    if (cb) cb(std::unexpected(unavailable("not connected to " + address_.describe())));
    return nullptr;
  }
  if (unanswered_ >= options_.max_pending) {
    if (cb) cb(std::unexpected(unavailable("too many commands in flight")));
    return nullptr;
  }
  uint64_t id = next_id_;
  if (own_replies_ ? !append(resp)
                   : redisAsyncFormattedCommand(ctx_, &RedisConnection::onReply, reinterpret_cast<void*>(uintptr_t(id)),
                                                resp.data(), resp.size()) != REDIS_OK) {
    if (cb) cb(std::unexpected(unavailable("cannot send command")));
    return nullptr;
  }
  ++next_id_;
  Pending& p = pending_.emplace_back();
  p.id = id;
  p.sent_ms = turnMs();
  p.timeout_ms = timeout_ms ? timeout_ms : options_.command_timeout_ms;
  p.cb = std::move(cb);
  ++unanswered_;
  if (!timeout_timer_.active()) timeout_timer_.start(20, 20, [this] { checkTimeouts(); });
  return &p;
}

namespace {
constexpr std::size_t kSpareBuffers = 64;
constexpr std::size_t kSpareBufferBytes = 4096;  // a larger one is freed, not kept
}  // namespace

std::string RedisConnection::scriptBuffer() {
  if (spare_buffers_.empty()) return {};
  std::string buffer = std::move(spare_buffers_.back());
  spare_buffers_.pop_back();
  return buffer;
}

void RedisConnection::giveBack(std::string buffer) {
  // Only buffers with storage of their own are worth keeping; a larger one is freed.
  bool owns_storage = buffer.capacity() > std::string().capacity();
  if (!owns_storage || buffer.capacity() > kSpareBufferBytes) return;
  if (spare_buffers_.size() >= kSpareBuffers) return;
  buffer.clear();
  spare_buffers_.push_back(std::move(buffer));
}

bool RedisConnection::pushCommand(const std::vector<std::string>& args) {
  if (!connected_ || !ctx_) return false;
  std::string resp;
  appendRespCommand(resp, {args});
  return redisAsyncFormattedCommand(ctx_, &RedisConnection::onPush, this, resp.data(), resp.size()) == REDIS_OK;
}

// Redis answers in order, so one overdue command means every later one is stuck behind it:
// the connection is dropped and every pending command fails. A command is overdue when it has
// waited longer than its timeout and no reply arrived meanwhile either.
void RedisConnection::checkTimeouts() {
  // A real clock (not the loop's cached time): a busy loop turn must not look like a stuck link.
  auto overdue = [this] {
    uint64_t now = uv_hrtime() / 1000000;
    std::size_t n = 0;
    for (const Pending& s : pending_) {
      if (++n > 64) break;  // a command with a shorter timeout may sit behind the oldest few
      if (s.answered) continue;
      uint64_t waiting_since = std::max(s.sent_ms, last_reply_ms_);
      if (now > waiting_since && now - waiting_since > s.timeout_ms) return true;
    }
    return false;
  };
  if (overdue() && ctx_) {
    // Replies may be waiting in the socket while the loop was busy: take them first. Any is
    // progress as of now (the turn's clock may have been read long ago in a busy turn).
    std::size_t unanswered = unanswered_;
    (own_replies_ ? readReplies : redisAsyncHandleRead)(ctx_);
    if (unanswered_ < unanswered) last_reply_ms_ = uv_hrtime() / 1000000;
    if (overdue()) {
      lost("command timed out");
      return;
    }
  }
  if (unanswered_ == 0) timeout_timer_.stop();
}

// ---- RedisClient ------------------------------------------------------------------------------

RedisClient::RedisClient(EventLoop& loop, RedisAddress address, RedisOptions options)
    : loop_(loop),
      address_(address),
      commands_(loop, address, options, "redis"),
      subscriber_(loop, address, options, "redis-sub") {
  commands_.on_connect = [this] {
    loadScripts();
    if (on_connect) on_connect();
  };
  subscriber_.on_push = [this](const redisReply* r) { onSubscriberPush(r); };
  // A new link starts with no subscription; on_connect subscribes everything again.
  subscriber_.on_disconnect = [this] { confirmed_.clear(); };
  subscriber_.on_connect = [this] {
    // Restore every subscription, a bounded number of channels per command.
    std::vector<std::string> args{"SUBSCRIBE"};
    for (const auto& [channel, handler] : channels_) {
      args.push_back(channel);
      if (args.size() > 512) {
        subscriber_.pushCommand(args);
        args.resize(1);
      }
    }
    if (args.size() > 1) subscriber_.pushCommand(args);
  };
}

RedisClient::~RedisClient() { close(); }

void RedisClient::start() {
  commands_.start();
  if (!channels_.empty()) {
    subscriber_started_ = true;
    subscriber_.start();
  }
}

void RedisClient::close() {
  commands_.close();
  subscriber_.close();
  subscriber_started_ = false;
}

void RedisClient::command(const std::vector<std::string>& args, RedisCallback cb,
                          uint64_t timeout_ms) {
  commands_.command(args, std::move(cb), timeout_ms);
}

std::string RedisClient::registerScript(const std::string& name, const std::string& source) {
  Script s{source, sha1Hex(source)};
  scripts_[name] = s;
  if (commands_.connected()) {
    commands_.command({"SCRIPT", "LOAD", source}, [name](RedisResult r) {
      if (!r || r->isError())
        spdlog::error("redis: loading script {} failed: {}", name, r ? r->str : r.error().message);
    });
  }
  return s.sha1;
}

void RedisClient::loadScripts() {
  for (const auto& [name, script] : scripts_) {
    commands_.command({"SCRIPT", "LOAD", script.source}, [name](RedisResult r) {
      if (!r || r->isError())
        spdlog::error("redis: loading script {} failed: {}", name, r ? r->str : r.error().message);
    });
  }
}

void RedisClient::evalScript(const std::string& name, const std::vector<std::string>& keys,
                             const std::vector<std::string>& args, RedisCallback cb) {
  std::vector<std::string_view> key_views(keys.begin(), keys.end());
  std::vector<std::string_view> arg_views(args.begin(), args.end());
  evalScript(name, key_views, arg_views, std::move(cb));
}

void RedisClient::evalScript(const std::string& name, std::span<const std::string_view> keys,
                             std::span<const std::string_view> args, RedisCallback cb) {
  auto it = scripts_.find(name);
  if (it == scripts_.end()) {
    if (cb) cb(std::unexpected(Error{"internal", "redis: unknown script " + name}));
    return;
  }
  char numkeys[24];
  auto numkeys_end = std::to_chars(numkeys, numkeys + sizeof numkeys, keys.size()).ptr;
  const std::string_view head[] = {"EVALSHA", it->second.sha1, {numkeys, numkeys_end}};
  std::string resp = commands_.scriptBuffer();
  std::size_t bytes = 96;
  for (auto part : {keys, args})
    for (auto arg : part) bytes += arg.size() + 16;
  resp.reserve(bytes);
  appendRespCommand(resp, {head, keys, args});
  // scripts_ is a std::map whose entries are never removed: the name and source stay put.
  commands_.scriptCommand(std::move(resp), it->first, it->second.source, std::move(cb));
}

RedisClient::PreparedCall RedisClient::prepareScript(const std::string& name,
                                                     std::span<const std::string_view> keys,
                                                     std::span<const std::string_view> leading_args,
                                                     std::size_t more_args) const {
  PreparedCall call;
  auto it = scripts_.find(name);
  if (it == scripts_.end()) return call;  // evalPrepared answers the error
  call.name = &it->first;
  call.source = &it->second.source;
  call.more_args = more_args;
  char numkeys[24];
  auto numkeys_end = std::to_chars(numkeys, numkeys + sizeof numkeys, keys.size()).ptr;
  const std::string_view head[] = {"EVALSHA", it->second.sha1, {numkeys, numkeys_end}};
  std::size_t count = 3 + keys.size() + leading_args.size() + more_args;
  appendResp(call.resp_prefix, {std::span<const std::string_view>(head), keys, leading_args}, count);
  return call;
}

void RedisClient::evalPrepared(const PreparedCall& call, std::span<const std::string_view> args,
                               RedisCallback cb) {
  if (!call.name || args.size() != call.more_args) {
    if (cb) cb(std::unexpected(Error{"internal", "redis: a prepared script call without its script"}));
    return;
  }
  std::string resp = commands_.scriptBuffer();
  std::size_t bytes = call.resp_prefix.size();
  for (auto arg : args) bytes += arg.size() + 16;
  resp.reserve(bytes);
  resp.append(call.resp_prefix);
  appendResp(resp, {args}, 0, CountLine::None);
  commands_.scriptCommand(std::move(resp), *call.name, *call.source, std::move(cb));
}

void RedisClient::subscribe(const std::string& channel, MessageHandler handler,
                            std::function<void()> on_subscribed) {
  bool is_new = !channels_.contains(channel);
  channels_[channel] = std::move(handler);
  if (on_subscribed) {
    if (confirmed_.contains(channel)) on_subscribed();
    else awaiting_confirmation_[channel].push_back(std::move(on_subscribed));
  }
  if (!subscriber_started_) {
    subscriber_started_ = true;
    subscriber_.start();  // its on_connect subscribes to everything
    return;
  }
  if (is_new) subscriber_.pushCommand({"SUBSCRIBE", channel});
}

void RedisClient::unsubscribe(const std::string& channel) {
  confirmed_.erase(channel);
  awaiting_confirmation_.erase(channel);
  if (channels_.erase(channel)) subscriber_.pushCommand({"UNSUBSCRIBE", channel});
}

void RedisClient::publish(const std::string& channel, const std::string& payload,
                          RedisCallback cb) {
  commands_.command({"PUBLISH", channel, payload}, std::move(cb));
}

void RedisClient::onSubscriberPush(const redisReply* r) {
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) return;
  const redisReply* kind = r->element[0];
  if (kind->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING) return;
  std::string_view what(kind->str, kind->len);
  if (what == "subscribe") {  // ["subscribe", channel, count]: from now on messages arrive
    std::string channel(r->element[1]->str, r->element[1]->len);
    if (!channels_.contains(channel)) return;  // unsubscribed meanwhile
    confirmed_.insert(channel);
    auto waiting = awaiting_confirmation_.extract(channel);
    if (!waiting.empty())
      for (auto& done : waiting.mapped()) done();
    return;
  }
  if (what != "message") return;
  std::string channel(r->element[1]->str, r->element[1]->len);
  auto it = channels_.find(channel);
  if (it == channels_.end()) return;
  std::string payload(r->element[2]->str, r->element[2]->len);
  // Copy: the handler may unsubscribe itself.
  auto handler = it->second;
  handler(channel, payload);
}

}  // namespace bloomcast
