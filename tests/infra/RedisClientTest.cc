// RedisClient against a real redis-server: replies, fail-fast while down, reconnects,
// subscriptions restored, EVALSHA with reload on NOSCRIPT, stuck-connection timeouts, and turns
// of commands of any size.
#include "infra/RedisClient.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>

#include "LoopThread.h"
#include "TestSupport.h"

namespace bloomcast {
namespace {

using test::LoopThread;
using test::RedisServer;
using test::waitUntil;

// A RedisClient living on a LoopThread; call() runs one command and waits for its callback.
struct Client {
  LoopThread lt;
  std::unique_ptr<RedisClient> redis;

  Client(const std::string& url, RedisOptions options = {}) {
    lt.sync([&] {
      redis = std::make_unique<RedisClient>(lt.loop(), *parseRedisAddress(url), options);
      redis->start();
    });
  }
  ~Client() {
    lt.sync([&] { redis.reset(); });  // may already be gone
  }
  RedisResult call(std::vector<std::string> args) {
    std::promise<RedisResult> p;
    lt.sync([&] { redis->command(args, [&](RedisResult r) { p.set_value(std::move(r)); }); });
    return p.get_future().get();
  }
  bool connected() {
    return lt.sync([&] { return redis->connected(); });
  }
};

// The RESP the hot paths write themselves: one array of bulk strings, lengths in bytes, so an
// argument may hold CR LF, NUL or nothing at all; parts are concatenated in order.
TEST(RedisClient, FormatsCommandsAsRespArraysOfBulkStrings) {
  std::string out = "prefix|";
  const std::string head[] = {"EVALSHA", "abc", "1"};
  const std::vector<std::string> keys = {"k"};
  const std::vector<std::string> args = {"a\r\nb", "", std::string("\0", 1), "茶"};
  appendRespCommand(out, {head, keys, args});
  EXPECT_EQ(out, "prefix|*8\r\n$7\r\nEVALSHA\r\n$3\r\nabc\r\n$1\r\n1\r\n$1\r\nk\r\n"
                 "$4\r\na\r\nb\r\n$0\r\n\r\n$1\r\n" + std::string("\0", 1) + "\r\n$3\r\n茶\r\n");

  // Counts and lengths of several digits (the bytes are counted before they are written).
  std::vector<std::string_view> many(11, "x");
  std::string long_arg(1234, 'y');
  many[3] = std::string_view(long_arg).substr(0, 10);
  many[7] = long_arg;
  std::string wide;
  appendRespCommand(wide, {many});
  std::string expected = "*11\r\n";
  for (auto arg : many) expected += "$" + std::to_string(arg.size()) + "\r\n" + std::string(arg) + "\r\n";
  EXPECT_EQ(wide, expected);
  EXPECT_EQ(wide.size(), expected.size());

  // 20 bytes into an empty string: libstdc++ 12 grows the 15-byte small buffer to 30 and hands
  // resize_and_overwrite's callback 30, not the 20 asked for.
  const std::string get[] = {"GET", "k"};
  std::string small;
  appendRespCommand(small, {get});
  EXPECT_EQ(small, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
}

TEST(RedisClient, RunsCommandsAndCopiesReplies) {
  RedisServer server;
  Client c(server.url());
  ASSERT_TRUE(waitUntil([&] { return c.connected(); }));
  auto set = c.call({"SET", "k", std::string("v\0w", 3)});
  ASSERT_TRUE(set.has_value());
  EXPECT_EQ(set->type, RedisReply::Type::Status);
  auto get = c.call({"GET", "k"});
  ASSERT_TRUE(get.has_value());
  EXPECT_EQ(get->str, std::string("v\0w", 3));
  auto incr = c.call({"INCRBY", "n", "5"});
  EXPECT_EQ(incr->integer, 5);
  auto list = c.call({"MGET", "k", "missing"});
  ASSERT_EQ(list->elements.size(), 2u);
  EXPECT_TRUE(list->elements[1].isNil());
  auto odd = c.call({"SET", "odd", "a\r\n$3\r\nb"});  // RESP inside an argument stays data
  ASSERT_TRUE(odd.has_value());
  EXPECT_EQ(c.call({"GET", "odd"})->str, "a\r\n$3\r\nb");
  EXPECT_EQ(c.call({"SET", "empty", ""})->type, RedisReply::Type::Status);
  EXPECT_EQ(c.call({"STRLEN", "empty"})->integer, 0);
  auto err = c.call({"INCR", "k"});
  ASSERT_TRUE(err.has_value()) << "an error reply is a reply";
  EXPECT_TRUE(err->isError());
}

TEST(RedisClient, WorksOverAUnixSocket) {
  RedisServer server(RedisServer::Mode::Unix);
  Client c(server.url());
  ASSERT_TRUE(waitUntil([&] { return c.connected(); }));
  EXPECT_EQ(c.call({"PING"})->str, "PONG");
}

// A loop turn's commands leave in one write that keeps its buffer for the next turn. A turn
// whose commands overflow the socket (12 MiB here) is written in parts as the socket drains,
// and the buffer grown for it is given back; every command arrives once, in order, either way.
TEST(RedisClient, ATurnsCommandsArriveWholeAndInOrderWhateverTheirSize) {
  RedisServer server(RedisServer::Mode::Unix);
  Client c(server.url());
  ASSERT_TRUE(waitUntil([&] { return c.connected(); }));

  std::atomic<int> answered = 0;
  // Replies are checked against the order the commands were issued in: each INCR's answer is
  // the count of INCRs issued before it, plus one.
  int issued = 0;
  std::vector<int> seen;
  std::mutex seen_mutex;
  auto incrTurn = [&](int n, std::size_t pad) {
    c.lt.sync([&] {
      for (int i = 0; i < n; ++i) {
        ++issued;
        // The padding argument makes the command big without changing what it does.
        std::vector<std::string> args = {"EVAL", "return redis.call('INCR', KEYS[1])", "1", "counter",
                                         std::string(pad, 'p')};
        c.redis->command(args, [&](RedisResult r) {
          bool integer = r && r->type == RedisReply::Type::Integer;
          std::lock_guard lock(seen_mutex);
          seen.push_back(integer ? static_cast<int>(r->integer) : -1);
          ++answered;
        });
      }
    });
  };
  incrTurn(200, 64 * 1024);  // ~12.5 MiB in one turn: many partial writes
  for (int turn = 0; turn < 20; ++turn) incrTurn(50, 300);  // turns like an order burst's
  incrTurn(5, 512 * 1024);  // a burst past the kept size
  incrTurn(50, 300);
  ASSERT_TRUE(waitUntil([&] { return answered.load() == issued; }, std::chrono::seconds(20)));
  std::lock_guard lock(seen_mutex);
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(issued));
  for (std::size_t i = 0; i < seen.size(); ++i) {
    ASSERT_EQ(seen[i], static_cast<int>(i) + 1) << "reply " << i;
  }
  EXPECT_EQ(c.call({"GET", "counter"})->str, std::to_string(issued));
}

// Replies are handed out one by one from what one read of the socket gave (RedisConnection's
// own path around hiredis's async layer). A callback may close the client, or destroy it, in the
// middle of such a read: the replies after it are not handed out, and each later command fails
// exactly once ("connection closed"). Under ASan this also checks that nothing touches the
// freed connection.
TEST(RedisClient, ACallbackMayCloseOrDestroyTheClientInTheMiddleOfABurstOfReplies) {
  RedisServer server(RedisServer::Mode::Unix);
  for (bool destroy : {false, true}) {
    SCOPED_TRACE(destroy ? "destroyed" : "closed");
    Client c(server.url());
    ASSERT_TRUE(waitUntil([&] { return c.connected(); }));
    constexpr int kCommands = 50, kCloser = 10;
    std::vector<int> replies(kCommands, 0), failures(kCommands, 0);
    std::atomic<int> done = 0;
    c.lt.sync([&] {
      for (int i = 0; i < kCommands; ++i) {
        c.redis->command({"PING"}, [&, i](RedisResult r) {
          (r ? replies : failures)[i]++;
          ++done;
          if (i + 1 == kCloser) {
            if (destroy) c.redis.reset();
            else c.redis->close();
          }
        });
      }
    });
    ASSERT_TRUE(waitUntil([&] { return done.load() == kCommands; }, std::chrono::seconds(5)));
    for (int i = 0; i < kCommands; ++i) {
      EXPECT_EQ(replies[i], i < kCloser ? 1 : 0) << "command " << i;
      EXPECT_EQ(failures[i], i < kCloser ? 0 : 1) << "command " << i;
    }
    if (!destroy) {  // a closed client starts again
      c.lt.sync([&] { c.redis->start(); });
      ASSERT_TRUE(waitUntil([&] { return c.connected(); }));
      EXPECT_EQ(c.call({"PING"})->str, "PONG");
    }
  }
}

// Tests that kill and restart Redis use a unix socket: a TCP port freed by kill -9 could be
// taken by a parallel test's server before the restart, and the client would reconnect there.
// Regression: on a unix socket hiredis watched for reads only after a first command, so a
// Redis killed while the client was idle went unnoticed; the client now PINGs on connect.
TEST(RedisClient, FailsFastWhileRedisIsDownAndRecoversByItself) {
  RedisServer server(RedisServer::Mode::Unix);
  Client c(server.url());
  ASSERT_TRUE(waitUntil([&] { return c.connected(); }));
  server.kill9();
  ASSERT_TRUE(waitUntil([&] { return !c.connected(); }));

  auto started = std::chrono::steady_clock::now();
  auto r = c.call({"PING"});
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, "store_unavailable");
  EXPECT_LT(took, std::chrono::milliseconds(100)) << "no queueing while down";

  server.start();
  ASSERT_TRUE(waitUntil([&] { return c.connected(); }, std::chrono::seconds(5)));
  auto after = c.call({"PING"});
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->str, "PONG");
}

TEST(RedisClient, SubscriptionsAreRestoredAfterAReconnect) {
  RedisServer server(RedisServer::Mode::Unix);
  Client c(server.url());
  std::mutex mu;
  std::vector<std::string> got;
  c.lt.sync([&] {
    c.redis->subscribe("room:1", [&](const std::string& channel, const std::string& payload) {
      std::lock_guard lock(mu);
      got.push_back(channel + "=" + payload);
    });
  });
  auto subscribed = [&] {
    // PUBLISH answers with the number of receivers.
    return server.command({"PUBLISH", "room:1", "hello"}) == "1";
  };
  ASSERT_TRUE(waitUntil(subscribed));
  ASSERT_TRUE(waitUntil([&] { std::lock_guard l(mu); return !got.empty(); }));
  EXPECT_EQ(got.front(), "room:1=hello");

  server.kill9();
  server.start();
  ASSERT_TRUE(waitUntil(subscribed, std::chrono::seconds(5))) << "subscription restored";
  ASSERT_TRUE(waitUntil([&] { std::lock_guard l(mu); return got.size() >= 2; }));

  c.lt.sync([&] { c.redis->unsubscribe("room:1"); });
  ASSERT_TRUE(waitUntil([&] { return server.command({"PUBLISH", "room:1", "bye"}) == "0"; }));
}

// The confirmation callback means "published from now on, you get it": the first PUBLISH
// after it must arrive (pub/sub keeps nothing for a subscriber not yet in place); at once for a
// channel already confirmed.
TEST(RedisClient, SubscribeConfirmsWhenMessagesWillArrive) {
  RedisServer server(RedisServer::Mode::Unix);
  Client c(server.url());
  std::mutex mu;
  std::vector<std::string> got;
  std::atomic<int> confirmations{0};
  auto handler = [&](const std::string&, const std::string& payload) {
    std::lock_guard lock(mu);
    got.push_back(payload);
  };
  c.lt.sync([&] { c.redis->subscribe("room:7", handler, [&] { ++confirmations; }); });
  ASSERT_TRUE(waitUntil([&] { return confirmations == 1; }));
  EXPECT_EQ(server.command({"PUBLISH", "room:7", "first"}), "1") << "subscribed once confirmed";
  ASSERT_TRUE(waitUntil([&] { std::lock_guard l(mu); return got.size() == 1; }));

  c.lt.sync([&] { c.redis->subscribe("room:7", handler, [&] { ++confirmations; }); });
  EXPECT_EQ(confirmations, 2) << "an already confirmed channel confirms at once";

  c.lt.sync([&] { c.redis->unsubscribe("room:7"); });
  c.lt.sync([&] { c.redis->subscribe("room:8", handler, [&] { ++confirmations; }); });
  ASSERT_TRUE(waitUntil([&] { return confirmations == 3; }));
  EXPECT_EQ(server.command({"PUBLISH", "room:8", "second"}), "1");
  ASSERT_TRUE(waitUntil([&] { std::lock_guard l(mu); return got.size() == 2; }));
}

TEST(RedisClient, ScriptsRunByShaAndReloadAfterScriptFlush) {
  RedisServer server;
  Client c(server.url());
  ASSERT_TRUE(waitUntil([&] { return c.connected(); }));
  std::string sha = c.lt.sync([&] {
    return c.redis->registerScript("concat", "return KEYS[1] .. ':' .. ARGV[1]");
  });
  auto eval = [&] {
    std::promise<RedisResult> p;
    c.lt.sync([&] {
      c.redis->evalScript("concat", {"k"}, {"v"}, [&](RedisResult r) { p.set_value(std::move(r)); });
    });
    return p.get_future().get();
  };
  ASSERT_TRUE(waitUntil([&] { return server.command({"SCRIPT", "EXISTS", sha}) == "(array 1)"; }));
  auto first = eval();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->str, "k:v");

  server.command({"SCRIPT", "FLUSH"});
  auto second = eval();
  ASSERT_TRUE(second.has_value());
  EXPECT_FALSE(second->isError()) << second->str;
  EXPECT_EQ(second->str, "k:v");
}

// A prepared call sends the same command as evalScript with all its arguments: the keys and the
// leading arguments once formatted, the rest per call, NOSCRIPT handled the same; a call with
// another number of arguments than prepared for, or of an unknown script, is refused.
TEST(RedisClient, PreparedScriptCallsAreTheCallsTheyPrepare) {
  RedisServer server;
  Client c(server.url());
  ASSERT_TRUE(waitUntil([&] { return c.connected(); }));
  const char* source = "return table.concat(KEYS, ',') .. '|' .. table.concat(ARGV, ',')";
  c.lt.sync([&] { c.redis->registerScript("join", source); });
  auto call = [&](const RedisClient::PreparedCall& prepared, std::vector<std::string_view> args) {
    std::promise<RedisResult> p;
    c.lt.sync([&] {
      c.redis->evalPrepared(prepared, args, [&](RedisResult r) { p.set_value(std::move(r)); });
    });
    return p.get_future().get();
  };
  const std::string_view keys[] = {"k1", "{s:1}:k2"};
  const std::string_view leading[] = {"TEA"};
  auto prepared = c.lt.sync([&] { return c.redis->prepareScript("join", keys, leading, 2); });
  auto first = call(prepared, {"1", "名字 with spaces"});
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->str, "k1,{s:1}:k2|TEA,1,名字 with spaces");
  auto empty_arg = call(prepared, {"", "x"});
  ASSERT_TRUE(empty_arg.has_value());
  EXPECT_EQ(empty_arg->str, "k1,{s:1}:k2|TEA,,x");

  server.command({"SCRIPT", "FLUSH"});
  auto reloaded = call(prepared, {"2", "y"});
  ASSERT_TRUE(reloaded.has_value());
  EXPECT_FALSE(reloaded->isError()) << reloaded->str;
  EXPECT_EQ(reloaded->str, "k1,{s:1}:k2|TEA,2,y");

  auto too_few = call(prepared, {"3"});
  ASSERT_FALSE(too_few.has_value());
  EXPECT_EQ(too_few.error().code, "internal");
  auto unknown = c.lt.sync([&] { return c.redis->prepareScript("missing", keys, leading, 0); });
  auto refused = call(unknown, {});
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, "internal");
  EXPECT_EQ(c.call({"PING"})->str, "PONG") << "nothing malformed reached Redis";
}

// Regression: a script called without a callback (fire and forget, as the chat's last-member
// report) crashed the server with std::bad_function_call when its reply arrived.
TEST(RedisClient, ScriptsMayBeCalledWithoutACallback) {
  RedisServer server;
  Client c(server.url());
  ASSERT_TRUE(waitUntil([&] { return c.connected(); }));
  c.lt.sync([&] {
    c.redis->registerScript("set", "return redis.call('SET', KEYS[1], ARGV[1])");
    c.redis->evalScript("set", {"k"}, {"v"}, {});
    c.redis->evalScript("missing", std::vector<std::string>{}, std::vector<std::string>{}, {});
  });
  ASSERT_TRUE(waitUntil([&] { return server.command({"GET", "k"}) == "v"; }));
  EXPECT_EQ(c.call({"PING"})->str, "PONG") << "the client is still there";
}

TEST(RedisClient, ACommandStuckPastItsTimeoutFailsAndTheClientRedials) {
  RedisServer server(RedisServer::Mode::Tcp, {"enable-debug-command yes"});
  RedisOptions options;
  options.command_timeout_ms = 200;
  Client c(server.url(), options);
  ASSERT_TRUE(waitUntil([&] { return c.connected(); }));
  auto started = std::chrono::steady_clock::now();
  auto r = c.call({"DEBUG", "SLEEP", "1.5"});
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, "store_unavailable");
  EXPECT_NE(r.error().message.find("timed out"), std::string::npos);
  EXPECT_LT(took, std::chrono::milliseconds(1000));
  ASSERT_TRUE(waitUntil([&] { return c.connected() && c.call({"PING"}).has_value(); },
                        std::chrono::seconds(5)));
}

TEST(RedisClient, RefusesBadAddresses) {
  EXPECT_FALSE(parseRedisAddress("http://x").has_value());
  EXPECT_FALSE(parseRedisAddress("redis://:1").has_value());
  EXPECT_FALSE(parseRedisAddress("redis://h:99999").has_value());
  EXPECT_FALSE(parseRedisAddress("unix:").has_value());
  auto a = parseRedisAddress("redis://127.0.0.1:7000");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->port, 7000);
  EXPECT_EQ(parseRedisAddress("unix:/tmp/x.sock")->unix_path, "/tmp/x.sock");
}

}  // namespace
}  // namespace bloomcast
