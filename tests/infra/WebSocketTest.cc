// WebSockets on HttpServer with real lws clients: routing, text in and out, refused input, and
// the bounded send queue of a reader that stops reading.
#include "infra/WebSocket.h"

#include <gtest/gtest.h>

#include <optional>

#include "LoopThread.h"
#include "TestSupport.h"
#include "WsClient.h"
#include "infra/HttpServer.h"

namespace bloomcast {
namespace {

using test::LoopThread;
using test::WsClients;

// Echoes every text back; "flood:N:drop" / "flood:N:keep" sends N frames of 1 KiB.
class Echo : public WebSocketHandler {
 public:
  void onOpen(WebSocketConnection& c) override {
    ++opened;
    c.send(WsFrame::text("hello " + c.queryOr("name", "?")), false);
  }
  void onText(WebSocketConnection& c, std::string_view text) override {
    if (text.starts_with("flood:")) {
      int n = std::stoi(std::string(text.substr(6)));
      bool droppable = text.ends_with(":drop");
      auto frame = WsFrame::text(std::string(1024, 'x'));  // one frame shared by every send
      for (int i = 0; i < n; ++i) c.send(frame, droppable);
      return;
    }
    c.send(WsFrame::text(std::string(text)), false);
  }
  void onClose(WebSocketConnection&) override { ++closed; }
  int opened = 0;
  int closed = 0;
};

// An HttpServer whose one WebSocket route, /ws, is served by a Handler; configure() may change
// the server's options first.
template <class Handler>
class WsServerTest : public ::testing::Test {
 protected:
  virtual void configure(HttpServerOptions&) {}
  void SetUp() override {
    lt_.sync([&] {
      HttpServerOptions options{"127.0.0.1", 0, 16384};
      configure(options);
      server_ = std::make_unique<HttpServer>(lt_.loop(), metrics_, options);
      server_->websocket("/ws", &handler_);
      ASSERT_TRUE(server_->start().has_value());
      port_ = server_->port();
    });
  }
  void TearDown() override {
    lt_.sync([&] { server_.reset(); });
  }
  LoopThread lt_;
  MetricsRegistry metrics_;
  Handler handler_;
  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
};

class WebSocketTest : public WsServerTest<Echo> {
 protected:
  Echo& echo_ = handler_;
};

TEST_F(WebSocketTest, UpgradesOnItsPathAndSeesTheQuery) {
  WsClients clients;
  int c = clients.connect(port_, "/ws?name=ming");
  ASSERT_TRUE(clients.waitOpen(c));
  ASSERT_TRUE(clients.waitFor(c, [](auto& m) { return !m.empty(); }));
  EXPECT_EQ(clients.messages(c)[0], "hello ming");
  clients.send(c, "你好");
  ASSERT_TRUE(clients.waitFor(c, [](auto& m) { return m.size() == 2; }));
  EXPECT_EQ(clients.messages(c)[1], "你好");
}

TEST_F(WebSocketTest, OtherPathsAreRefused) {
  WsClients clients;
  int c = clients.connect(port_, "/nope");
  EXPECT_FALSE(clients.waitOpen(c));
  EXPECT_TRUE(clients.isClosed(c));
}

// lws 4.1 drops the connection without delivering the close status to this client, so the
// tests assert the close itself; the code (1003/1009) is what the server asks lws to send.
TEST_F(WebSocketTest, BinaryFramesCloseTheConnection) {
  WsClients clients;
  int c = clients.connect(port_, "/ws");
  ASSERT_TRUE(clients.waitOpen(c));
  clients.sendBinary(c, "\x01\x02");
  ASSERT_TRUE(clients.waitClosed(c));
  EXPECT_TRUE(test::waitUntil([&] { return lt_.sync([&] { return echo_.closed; }) == 1; }));
}

TEST_F(WebSocketTest, MessagesOverTheCapCloseTheConnection) {
  WsClients clients;
  int c = clients.connect(port_, "/ws");
  ASSERT_TRUE(clients.waitOpen(c));
  clients.send(c, std::string(5000, 'a'));
  ASSERT_TRUE(clients.waitClosed(c));
  int d = clients.connect(port_, "/ws");
  ASSERT_TRUE(clients.waitOpen(d)) << "the server goes on";
}

TEST_F(WebSocketTest, ASlowReaderLosesDroppableFramesButStaysConnected) {
  WsClients clients;
  int c = clients.connect(port_, "/ws");
  ASSERT_TRUE(clients.waitOpen(c));
  ASSERT_TRUE(clients.waitFor(c, [](auto& m) { return !m.empty(); }));
  clients.setReading(c, false);
  clients.send(c, "flood:20000:drop");  // 20 MB of chat for a reader that does not read
  ASSERT_TRUE(test::waitUntil([&] {
    return metrics_.render().find("bloomcast_ws_dropped_frames_total 0") == std::string::npos;
  }));
  EXPECT_LE(lt_.sync([&] { return server_->websockets().connections(); }), 1u);
  clients.setReading(c, true);
  ASSERT_TRUE(clients.waitFor(c, [](auto& m) { return m.size() > 10; }));
  EXPECT_LT(clients.messages(c).size(), 20000u) << "old frames were shed";
  EXPECT_TRUE(clients.isOpen(c));
}

TEST_F(WebSocketTest, AReaderThatCannotKeepUpWithSystemFramesIsDisconnected) {
  WsClients clients;
  int c = clients.connect(port_, "/ws");
  ASSERT_TRUE(clients.waitOpen(c));
  clients.setReading(c, false);
  clients.send(c, "flood:20000:keep");
  ASSERT_TRUE(test::waitUntil([&] { return lt_.sync([&] { return echo_.closed; }) == 1; }));
  EXPECT_NE(metrics_.render().find("bloomcast_ws_slow_closed_total 1"), std::string::npos);
}

// 1,000 connect/close cycles (50 at a time): every connection is accounted for and gone
// afterwards; under the ASan build LeakSanitizer checks that none left memory behind.
TEST_F(WebSocketTest, AThousandConnectCloseCyclesLeaveNothingBehind) {
  for (int round = 0; round < 20; ++round) {
    WsClients clients;
    std::vector<int> ids;
    for (int i = 0; i < 50; ++i) ids.push_back(clients.connect(port_, "/ws?name=c"));
    for (int c : ids) {
      ASSERT_TRUE(clients.waitOpen(c));
      ASSERT_TRUE(clients.waitFor(c, [](auto& m) { return !m.empty(); }));
    }
    for (int c : ids) clients.close(c);
    for (int c : ids) ASSERT_TRUE(clients.waitClosed(c));
  }
  ASSERT_TRUE(test::waitUntil([&] { return lt_.sync([&] { return echo_.closed; }) == 1000; }));
  EXPECT_EQ(lt_.sync([&] { return echo_.opened; }), 1000);
  ASSERT_TRUE(test::waitUntil([&] {
    auto m = metrics_.render();
    return m.find("bloomcast_ws_connections 0\n") != std::string::npos &&
           m.find("bloomcast_http_connections 0\n") != std::string::npos;
  })) << metrics_.render();
}

// ---- behind a reverse proxy ---------------------------------------------------------------

// Greets each connection with the address the server holds for it.
class Greeter : public WebSocketHandler {
 public:
  void onOpen(WebSocketConnection& c) override { c.send(WsFrame::text("you are <" + c.remoteIp() + ">"), false); }
  void onText(WebSocketConnection&, std::string_view) override {}
  void onClose(WebSocketConnection&) override {}
};

// 127.0.0.1 is the trusted proxy; 127.0.0.9 a client reaching the server directly.
class WebSocketBehindProxyTest : public WsServerTest<Greeter> {
 protected:
  void configure(HttpServerOptions& options) override {
    options.trusted_proxies = *TrustedProxies::parse({"127.0.0.1"});
  }
  // The address the server greets an upgrade from `from` with, sending `fields` in its head.
  std::string greeting(const std::string& from, const std::string& fields) {
    test::RawSocket s(port_, from);
    s.send("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + fields + "\r\n");
    auto greeted = [](const std::string& r) {
      auto at = r.find("you are <");
      return at != std::string::npos && r.find('>', at) != std::string::npos;
    };
    if (!s.readUntil(greeted, std::chrono::seconds(5))) return "no greeting: " + s.received();
    const std::string& r = s.received();
    std::size_t at = r.find("you are <") + 9;
    return r.substr(at, r.find('>', at) - at);
  }
};

// The WebSocket keeps the client the upgrade request resolved to, so chat sees the viewer's
// address, not the proxy's.
TEST_F(WebSocketBehindProxyTest, AnUpgradeThroughATrustedProxyKeepsTheForwardedClient) {
  EXPECT_EQ(greeting("127.0.0.1", "X-Forwarded-For: 203.0.113.9, 127.0.0.1\r\n"), "203.0.113.9");
  EXPECT_EQ(greeting("127.0.0.1", "X-Forwarded-For: ::ffff:198.51.100.4\r\n"), "198.51.100.4");
  EXPECT_EQ(greeting("127.0.0.1", ""), "127.0.0.1");
  EXPECT_EQ(greeting("127.0.0.9", "X-Forwarded-For: 203.0.113.9\r\n"), "127.0.0.9") << "not from a trusted peer";
}

// ---- broadcasts (WebSocketHub::fanOut) ---------------------------------------------------------

// Keeps the open connections, in the order they opened, for the test to broadcast to.
class Audience : public WebSocketHandler {
 public:
  void onOpen(WebSocketConnection& c) override { open.push_back(&c); }
  void onText(WebSocketConnection&, std::string_view) override {}
  void onClose(WebSocketConnection& c) override { std::erase(open, &c); }
  std::vector<WebSocketConnection*> open;
};

// Helpers on from the first recipient (three threads), so that small audiences take the
// parallel path too, and slices of five recipients, so that a dozen take three slices.
class WebSocketFanOutTest : public WsServerTest<Audience> {
 protected:
  void configure(HttpServerOptions& options) override {
    options.websocket.fanout_threads = 3;
    options.websocket.parallel_fanout_min = 1;
    options.websocket.fanout_slice = 5;
  }
  // A text of `size` bytes that starts with `tag` and is filled with a pattern of the tag.
  static std::string payload(const std::string& tag, std::size_t size) {
    std::string out = tag + ":";
    while (out.size() < size) out += static_cast<char>('a' + out.size() % 26);
    out.resize(std::max(size, tag.size() + 1));
    return out;
  }
  static std::vector<WsOut> frames(const std::vector<std::pair<std::string, bool>>& texts) {
    std::vector<WsOut> out;
    for (auto& [text, droppable] : texts) out.push_back({WsFrame::text(text), droppable});
    return out;
  }
  void broadcast(const std::vector<std::pair<std::string, bool>>& texts) {
    lt_.sync([&] { server_->websockets().fanOut(audience_.open, frames(texts)); });
  }
  // Opens n readers and waits until the server has them all.
  std::vector<int> openReaders(WsClients& clients, std::size_t n) {
    std::vector<int> ids;
    for (std::size_t i = 0; i < n; ++i) ids.push_back(clients.connect(port_, "/ws"));
    for (int c : ids) EXPECT_TRUE(clients.waitOpen(c));
    EXPECT_TRUE(test::waitUntil([&] { return lt_.sync([&] { return audience_.open.size(); }) == n; }));
    return ids;
  }
  Audience& audience_ = handler_;
};

// Frames of all three header sizes (7-, 16- and 64-bit lengths), one to three per broadcast,
// arrive at every reader whole, once and in order.
TEST_F(WebSocketFanOutTest, EveryReaderGetsEveryFrameWholeAndInOrder) {
  WsClients clients;
  std::vector<int> ids = openReaders(clients, 12);
  ASSERT_FALSE(HasFailure());
  const std::size_t sizes[] = {10, 125, 126, 300, 65535, 65536, 70000};
  std::vector<std::string> expected;
  for (int round = 0; round < 30; ++round) {
    std::vector<std::pair<std::string, bool>> frames;
    for (int k = 0; k <= round % 3; ++k) {
      std::string tag = "r" + std::to_string(round) + "-" + std::to_string(k);
      frames.emplace_back(payload(tag, sizes[(round + k) % std::size(sizes)]), k % 2 == 1);
      expected.push_back(frames.back().first);
    }
    broadcast(frames);
    // Round by round, so that no reader falls far enough behind to have chat frames shed.
    for (int c : ids)
      ASSERT_TRUE(clients.waitFor(c, [&](auto& m) { return m.size() >= expected.size(); }))
          << "client " << c << " round " << round << ": " << clients.messages(c).size() << " of " << expected.size();
  }
  for (int c : ids) {
    auto got = clients.messages(c);
    ASSERT_EQ(got.size(), expected.size()) << "client " << c;
    for (std::size_t i = 0; i < got.size(); ++i)
      ASSERT_TRUE(got[i] == expected[i]) << "client " << c << " frame " << i << ": " << got[i].size() << " bytes, "
                                         << got[i].substr(0, 20) << " instead of " << expected[i].substr(0, 20);
  }
  EXPECT_NE(metrics_.render().find("bloomcast_ws_frames_out_total " + std::to_string(12 * expected.size()) + "\n"),
            std::string::npos);
}

// A reader that stops reading takes part of an 8 MB frame (more than the socket buffers hold):
// the rest waits inside lws, the next broadcast queues behind it, and once the reader reads
// again it gets both frames whole and in order, while the other reader was never held up.
TEST_F(WebSocketFanOutTest, AFramePartlyTakenByAPausedReaderIsFinishedIntactLater) {
  WsClients clients;
  int paused = clients.connect(port_, "/ws");
  ASSERT_TRUE(clients.waitOpen(paused));
  int reading = clients.connect(port_, "/ws");
  ASSERT_TRUE(clients.waitOpen(reading));
  ASSERT_TRUE(test::waitUntil([&] { return lt_.sync([&] { return audience_.open.size(); }) == 2u; }));
  clients.setReading(paused, false);
  clients.send(paused, "sync");  // the pause has been applied once the server has this
  std::string big = payload("big", 8 << 20);
  broadcast({{big, false}});
  ASSERT_TRUE(clients.waitFor(reading, [](auto& m) { return m.size() == 1; }, std::chrono::seconds(30)));
  broadcast({{"after", false}});
  ASSERT_TRUE(clients.waitFor(reading, [](auto& m) { return m.size() == 2; }));
  // The paused reader's socket could not take the whole frame, so the next one waits with us.
  EXPECT_EQ(lt_.sync([&] { return audience_.open[0]->queuedFrames(); }), 1u);
  clients.setReading(paused, true);
  ASSERT_TRUE(clients.waitFor(paused, [](auto& m) { return m.size() == 2; }, std::chrono::seconds(30)));
  auto got = clients.messages(paused);
  EXPECT_TRUE(got[0] == big) << "the 8 MB frame arrived changed (" << got[0].size() << " bytes)";
  EXPECT_EQ(got[1], "after");
  EXPECT_TRUE(clients.isOpen(paused));
}

// A broadcast to a dozen readers takes three slices, and the loop serves other work between
// them: a task posted right after fanOut runs while the broadcast is still being written.
TEST_F(WebSocketFanOutTest, TheLoopRunsBetweenTheSlicesOfABroadcast) {
  WsClients clients;
  std::vector<int> ids = openReaders(clients, 12);
  ASSERT_FALSE(HasFailure());
  int done_calls = 0;
  std::optional<bool> midway;  // broadcasting() as seen by the posted task
  lt_.sync([&] {
    auto& hub = server_->websockets();
    hub.onBroadcastsDone([&] { ++done_calls; });
    hub.fanOut(audience_.open, frames({{"one", false}}));
    EXPECT_TRUE(hub.broadcasting());  // the first slice only
    lt_.loop().post([&] { midway = hub.broadcasting(); });
  });
  for (int c : ids) ASSERT_TRUE(clients.waitFor(c, [](auto& m) { return m.size() == 1 && m[0] == "one"; }));
  lt_.sync([&] {
    EXPECT_EQ(midway, std::optional<bool>(true));
    EXPECT_FALSE(server_->websockets().broadcasting());
    EXPECT_EQ(done_calls, 1);
    server_->websockets().onBroadcastsDone(nullptr);
  });
}

// What is sent to a reader, or a close, while a broadcast has not reached it yet comes after
// the broadcast's frames; readers already written to get it straight after them too.
TEST_F(WebSocketFanOutTest, AFrameSentToAReaderNotYetReachedComesAfterTheBroadcast) {
  WsClients clients;
  std::vector<int> ids = openReaders(clients, 12);
  ASSERT_FALSE(HasFailure());
  lt_.sync([&] {
    server_->websockets().fanOut(audience_.open, frames({{"first", true}, {"second", false}}));
    audience_.open[0]->send(WsFrame::text("direct"), false);   // in the first slice: written
    audience_.open[11]->send(WsFrame::text("direct"), false);  // in the third: not yet
    audience_.open[10]->close(1000, "bye");                     // in the third as well
  });
  for (int i : {0, 11}) {
    ASSERT_TRUE(clients.waitFor(ids[i], [](auto& m) { return m.size() == 3; })) << "reader " << i;
    EXPECT_EQ(clients.messages(ids[i]), (std::vector<std::string>{"first", "second", "direct"})) << "reader " << i;
  }
  ASSERT_TRUE(clients.waitClosed(ids[10]));
  EXPECT_EQ(clients.messages(ids[10]), (std::vector<std::string>{"first", "second"}));
  for (int i = 1; i < 10; ++i)
    ASSERT_TRUE(clients.waitFor(ids[i], [](auto& m) { return m.size() == 2 && m[1] == "second"; })) << "reader " << i;
}

// A reader that goes away while a broadcast is on its way to it is skipped (its slot emptied
// when the server sees the close between slices); the others get the frame and the server
// forgets the connection.
TEST_F(WebSocketFanOutTest, AReaderThatLeavesMidBroadcastIsSkipped) {
  WsClients clients;
  std::vector<int> ids = openReaders(clients, 12);
  ASSERT_FALSE(HasFailure());
  lt_.sync([&] {
    // The loop is held here: the server learns of the close only after fanOut has begun.
    clients.close(ids[11]);
    EXPECT_TRUE(clients.waitClosed(ids[11]));
    server_->websockets().fanOut(audience_.open, frames({{"news", false}}));
  });
  for (int i = 0; i < 11; ++i)
    ASSERT_TRUE(clients.waitFor(ids[i], [](auto& m) { return m.size() == 1 && m[0] == "news"; })) << "reader " << i;
  ASSERT_TRUE(test::waitUntil([&] { return lt_.sync([&] { return audience_.open.size(); }) == 11u; }));
  EXPECT_FALSE(lt_.sync([&] { return server_->websockets().broadcasting(); }));
}

}  // namespace
}  // namespace bloomcast
