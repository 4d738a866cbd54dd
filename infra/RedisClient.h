#pragma once
// RedisClient: the one way bloomcast talks to Redis — hiredis async on the loop thread.
//
//   RedisClient
//     +- commands_   RedisConnection  request/reply; pipelined: every command issued in one loop
//     |                               iteration leaves in one write
//     +- subscriber_ RedisConnection  SUBSCRIBE mode; channels restored after a reconnect
//     +- scripts_    Lua sources by name; SCRIPT LOADed on every (re)connect, called with
//                    EVALSHA, reloaded on NOSCRIPT
//
// Failure model: while a connection is down, commands fail at once with "store_unavailable"
// (no queue builds up); a command that waits longer than its timeout while no reply at all
// arrives fails with "store_unavailable" and the connection is dropped and re-dialled, since
// the link is stuck. Waiting behind a long burst of replies that keep coming (a flash sale
// issued in one busy loop turn) is progress, not a stuck link. Reconnects back off from 50 ms to 2 s. A reply that arrives after its
// command failed is discarded. So a caller may see a failure for a command that Redis did run:
// writes that must not run twice carry an idempotency key.
//
// Thread: loop thread only. Callbacks run on the loop thread, possibly before command() returns
// (when failing fast). Owned by app/.
extern "C" {
#include <hiredis/sds.h>  // hiredis.h includes it outside its own extern "C"
}
#include <hiredis/hiredis.h>

#include <cstdint>
#include <deque>
#include <expected>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "infra/Error.h"
#include "infra/EventLoop.h"

struct redisAsyncContext;

namespace bloomcast {

// A Redis reply copied out of hiredis. An error reply (e.g. a script's redis.error_reply) is a
// reply, not a transport failure.
struct RedisReply {
  enum class Type { String, Array, Integer, Nil, Status, Error };
  Type type = Type::Nil;
  std::string str;  // String, Status, Error
  long long integer = 0;
  std::vector<RedisReply> elements;

  bool isError() const { return type == Type::Error; }
  bool isNil() const { return type == Type::Nil; }
  static RedisReply fromHiredis(const redisReply* r);
};

using RedisResult = std::expected<RedisReply, Error>;
using RedisCallback = std::function<void(RedisResult)>;

// "redis://HOST[:PORT]" or "unix:PATH".
struct RedisAddress {
  std::string host;
  int port = 6379;
  std::string unix_path;
  std::string describe() const;
};
std::expected<RedisAddress, Error> parseRedisAddress(std::string_view url);

struct RedisOptions {
  uint64_t connect_timeout_ms = 1000;
  uint64_t command_timeout_ms = 2000;
  std::size_t max_pending = 200000;  // commands in flight on one connection
  uint64_t backoff_min_ms = 50;
  uint64_t backoff_max_ms = 2000;
};

// Appends one RESP array of bulk strings (a command as Redis reads it) to `out`.
void appendRespCommand(std::string& out, std::initializer_list<std::span<const std::string>> parts);
void appendRespCommand(std::string& out, std::initializer_list<std::span<const std::string_view>> parts);

// One hiredis async connection that redials by itself. Used through RedisClient.
class RedisConnection {
 public:
  RedisConnection(EventLoop& loop, RedisAddress address, RedisOptions options, std::string name);
  ~RedisConnection();

  void start();
  // Stops redialling and drops the connection; pending commands fail.
  void close();
  bool connected() const { return connected_; }

  // Sends a command; `cb` gets the reply or an error. timeout_ms 0 = the default.
  void command(const std::vector<std::string>& args, RedisCallback cb, uint64_t timeout_ms = 0);
  // The same for a command already in RESP (appendRespCommand): the hot paths format straight
  // into one buffer instead of through hiredis's argv formatting.
  void commandResp(std::string_view resp, RedisCallback cb, uint64_t timeout_ms = 0);

  // A script call: `resp` is its EVALSHA in RESP, formatted into scriptBuffer(). On a NOSCRIPT
  // error reply (the server lost its script cache: a restart, SCRIPT FLUSH) the script's source
  // is loaded and the call sent once more, and `cb` gets that second reply. The name and source
  // must outlive the call (RedisClient's scripts are never removed).
  void scriptCommand(std::string resp, const std::string& name, const std::string& source,
                     RedisCallback cb);
  // An empty buffer to format a script call into: one that an answered call gave back, so the
  // calls of a flash sale allocate none.
  std::string scriptBuffer();

  // Subscriber mode: SUBSCRIBE/UNSUBSCRIBE whose replies (and later messages) go to on_push.
  bool pushCommand(const std::vector<std::string>& args);

  std::function<void()> on_connect;
  std::function<void()> on_disconnect;
  std::function<void(const redisReply*)> on_push;

  std::size_t pending() const { return unanswered_; }
  uint64_t reconnects() const { return reconnects_; }

 private:
  // A command sent and not yet answered. Redis answers in order, so these stay in send order
  // with consecutive ids (next_id_ advances only for a command hiredis took), and a reply finds
  // its entry by subtraction — no map node per command.
  struct Pending {
    uint64_t id = 0;
    uint64_t sent_ms = 0;
    uint64_t timeout_ms = 0;
    RedisCallback cb;
    bool answered = false;  // answered out of order (Redis does not): popped with those before it
    // A script call (scriptCommand): its RESP, kept for a NOSCRIPT retry, and its script.
    std::string resp;
    const std::string* script_name = nullptr;
    const std::string* script_source = nullptr;
  };
  // Sends `resp` and queues its entry, or fails `cb` at once (and returns null).
  Pending* send(std::string_view resp, RedisCallback& cb, uint64_t timeout_ms);
  void giveBack(std::string buffer);
  static void onConnect(const redisAsyncContext* ac, int status);
  static void onDisconnect(const redisAsyncContext* ac, int status);
  static void onReply(redisAsyncContext* ac, void* reply, void* privdata);
  static void onPush(redisAsyncContext* ac, void* reply, void* privdata);
  // A command connection's own path around hiredis's async layer (RedisClient.cc).
  bool append(std::string_view resp);
  static void readReplies(redisAsyncContext* ac);

  void dial();
  void scheduleRedial();
  void lost(const std::string& why);
  void failAll(const std::string& why);
  void checkTimeouts();

  EventLoop& loop_;
  RedisAddress address_;
  RedisOptions options_;
  std::string name_;
  redisAsyncContext* ctx_ = nullptr;
  bool connected_ = false;
  bool closing_ = false;
  uint64_t backoff_ms_;
  uint64_t reconnects_ = 0;
  uint64_t next_id_ = 1;
  uint64_t next_reply_id_ = 1;     // the command the next reply answers (command connections)
  bool* reading_alive_ = nullptr;  // set while readReplies runs: cleared if this is destroyed
  uint64_t dials_ = 0;             // contexts made: readReplies stops when its own is gone
  std::deque<Pending> pending_;
  std::vector<std::string> spare_buffers_;  // scriptBuffer()'s
  std::size_t unanswered_ = 0;     // entries of pending_ not answered
  bool own_replies_ = false;       // the reader builds RedisReply (kReplyFunctions); not for on_push
  uint64_t last_reply_ms_ = 0;     // loop time of the latest reply: the link makes progress
  Timer redial_timer_;
  Timer connect_timer_;
  Timer timeout_timer_;
};

class RedisClient {
 public:
  using MessageHandler = std::function<void(const std::string& channel, const std::string& payload)>;

  RedisClient(EventLoop& loop, RedisAddress address, RedisOptions options = {});
  ~RedisClient();

  void start();
  void close();
  bool connected() const { return commands_.connected(); }
  const RedisAddress& address() const { return address_; }

  void command(const std::vector<std::string>& args, RedisCallback cb, uint64_t timeout_ms = 0);

  // Registers a Lua script under `name` (before or after start()); returns its SHA1.
  std::string registerScript(const std::string& name, const std::string& source);
  // EVALSHA of a registered script; on NOSCRIPT loads it and retries once.
  void evalScript(const std::string& name, const std::vector<std::string>& keys,
                  const std::vector<std::string>& args, RedisCallback cb);
  // The same with views: the hot path (placing an order) builds no string per key or argument.
  void evalScript(const std::string& name, std::span<const std::string_view> keys,
                  std::span<const std::string_view> args, RedisCallback cb);

  // A call whose script, keys and first arguments repeat (a flash sale places order after order
  // of one product): their RESP is formatted once here, and evalPrepared copies it and formats
  // only the `more_args` arguments that follow. Valid while this client lives.
  struct PreparedCall {
    const std::string* name = nullptr;  // the script's, in scripts_; null: an unknown script
    const std::string* source = nullptr;
    std::string resp_prefix;
    std::size_t more_args = 0;
  };
  PreparedCall prepareScript(const std::string& name, std::span<const std::string_view> keys,
                             std::span<const std::string_view> leading_args, std::size_t more_args) const;
  // EVALSHA (with NOSCRIPT handled as evalScript does) of `call` followed by `args`.
  void evalPrepared(const PreparedCall& call, std::span<const std::string_view> args, RedisCallback cb);

  // One handler per channel; kept across reconnects until unsubscribe(). `on_subscribed`, if
  // given, runs once Redis has confirmed the subscription (at once if it already had): only
  // from then on does a PUBLISH reach `handler` — pub/sub keeps nothing for late subscribers.
  void subscribe(const std::string& channel, MessageHandler handler,
                 std::function<void()> on_subscribed = {});
  void unsubscribe(const std::string& channel);
  void publish(const std::string& channel, const std::string& payload, RedisCallback cb = {});

  // Called after each (re)connect of the command connection, once scripts are loading.
  std::function<void()> on_connect;

  std::size_t pendingCommands() const { return commands_.pending(); }
  uint64_t reconnects() const { return commands_.reconnects(); }

 private:
  struct Script {
    std::string source;
    std::string sha1;
  };
  void loadScripts();
  void onSubscriberPush(const redisReply* reply);

  EventLoop& loop_;
  RedisAddress address_;
  RedisConnection commands_;
  RedisConnection subscriber_;
  bool subscriber_started_ = false;
  std::map<std::string, Script> scripts_;
  std::map<std::string, MessageHandler> channels_;
  std::set<std::string> confirmed_;  // channels Redis confirmed on the current subscriber link
  std::map<std::string, std::vector<std::function<void()>>> awaiting_confirmation_;
};

}  // namespace bloomcast
