// HttpServer on libwebsockets with a real HTTP client (libcurl): routing, bodies and their
// limit, answers completed later, static files, and the first step of a graceful shutdown.
#include "infra/HttpServer.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>
#include <nlohmann/json.hpp>

#include "LoopThread.h"
#include "TestSupport.h"
#include "infra/StaticFiles.h"

namespace bloomcast {
namespace {

using test::http;
using test::LoopThread;

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.path() + "/hls/s1");
    std::ofstream(dir_.path() + "/hls/s1/index.m3u8") << "#EXTM3U\n";
    std::ofstream(dir_.path() + "/hls/s1/seg_0.m4s") << std::string(100000, 'x');
    std::ofstream(dir_.path() + "/secret.txt") << "top secret";
    lt_.sync([&] {
      server_ = std::make_unique<HttpServer>(lt_.loop(), metrics_,
                                             HttpServerOptions{"127.0.0.1", 0, 1024});
      server_->route("GET", "/api/streams/:id", [](HttpRequest& req, HttpResponder r) {
        r.send(HttpResponse::json(200, {{"id", req.params["id"]}, {"q", req.queryOr("q")}}));
      });
      server_->route("POST", "/api/echo-json", [](HttpRequest& req, HttpResponder r) {
        std::string body = req.body;  // gone (reused) once sendJson returns
        r.sendJson(202, body);
        body.assign("overwritten");
        r.sendJson(500, "{}");  // a second answer does nothing
      });
      server_->route("POST", "/api/echo", [](HttpRequest& req, HttpResponder r) {
        r.send(HttpResponse::json(201, {{"body", req.body}, {"auth", req.bearerToken()}}));
      });
      // Everything a handler sees of its request.
      auto inspect = [](HttpRequest& req, HttpResponder r) {
        r.send(HttpResponse::json(200, {{"method", req.method}, {"path", req.path},
                                        {"params", req.params}, {"query", req.query},
                                        {"body", req.body}, {"auth", req.authorization},
                                        {"type", req.content_type}, {"remote_ip", req.remote_ip}}));
      };
      server_->route("GET", "/api/inspect/:id", inspect);
      server_->route("POST", "/api/inspect/:id", inspect);
      // Held until the test answers: the handler's responder stays in held_.
      server_->route("GET", "/held", [this](HttpRequest&, HttpResponder r) {
        held_.push_back(r);
        ++held_count_;
      });
      server_->route("GET", "/big", [](HttpRequest&, HttpResponder r) {
        r.send(HttpResponse::text(200, std::string(1 << 20, 'b')));
      });
      server_->route("GET", "/later", [this](HttpRequest&, HttpResponder r) {
        deferred_.push_back(r);
        later_arrived_.set_value();
      });
      // Streamed: ?pieces=N pieces of 10 KiB, each answered on a later loop turn; ?abort=1 ends
      // with Abort instead of Last. Records how many pieces were asked for.
      server_->route("GET", "/stream", [this](HttpRequest& req, HttpResponder r) {
        int pieces = std::stoi(req.queryOr("pieces", "3"));
        bool abort = req.queryOr("abort") == "1";
        auto sent = std::make_shared<int>(0);
        r.send(HttpResponse::streamed(200, "text/plain", [this, pieces, abort, sent](BodyWriter write) {
          ++pieces_asked_;
          lt_.loop().post([write, pieces, abort, sent] {
            int n = (*sent)++;
            if (n < pieces) write(std::string(10 * 1024, static_cast<char>('a' + n % 26)), BodyEnd::More);
            else write(abort ? "" : "end", abort ? BodyEnd::Abort : BodyEnd::Last);
          });
        }));
      });
      serveDirectory(*server_, "/hls/*path", dir_.path() + "/hls", hlsCacheControl);
      ASSERT_TRUE(server_->start().has_value());
      base_ = "http://127.0.0.1:" + std::to_string(server_->port());
    });
  }
  void TearDown() override {
    lt_.sync([&] {
      deferred_.clear();
      held_.clear();
      server_.reset();
    });
  }

  test::TempDir dir_;
  LoopThread lt_;
  MetricsRegistry metrics_;
  std::unique_ptr<HttpServer> server_;
  std::vector<HttpResponder> deferred_;
  std::vector<HttpResponder> held_;
  std::atomic<int> held_count_{0};
  std::promise<void> later_arrived_;
  std::string base_;
  std::atomic<int> pieces_asked_{0};
};

TEST_F(HttpServerTest, RoutesWithParamsAndQuery) {
  auto r = http("GET", base_ + "/api/streams/s7?q=a%20b");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "application/json");
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["id"], "s7");
  EXPECT_EQ(body["q"], "a b");
}

TEST_F(HttpServerTest, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  auto missing = http("GET", base_ + "/api/nothing");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(nlohmann::json::parse(missing.body)["error"], "not_found");
  auto wrong = http("DELETE", base_ + "/api/echo");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.headers["allow"], "POST");
  EXPECT_EQ(nlohmann::json::parse(wrong.body)["error"], "method_not_allowed");
}

TEST_F(HttpServerTest, PostBodyAndBearerTokenReachTheHandler) {
  auto r = http("POST", base_ + "/api/echo", R"({"x":1})",
                {"Content-Type: application/json", "Authorization: Bearer t0k"});
  ASSERT_EQ(r.status, 201);
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["body"], R"({"x":1})");
  EXPECT_EQ(body["auth"], "t0k");
}

TEST_F(HttpServerTest, AJsonBodyTheHandlerHoldsIsCopiedIntoTheAnswer) {
  for (const std::string& sent : {std::string(R"({"x":1})"), std::string(1000, 'a')}) {
    auto r = http("POST", base_ + "/api/echo-json", sent, {"Content-Type: application/json"});
    ASSERT_EQ(r.status, 202);
    EXPECT_EQ(r.headers["content-type"], "application/json");
    EXPECT_EQ(r.headers["content-length"], std::to_string(sent.size()));
    EXPECT_EQ(r.body, sent);
  }
}

TEST_F(HttpServerTest, BodyOverTheLimitIs413) {
  auto declared = http("POST", base_ + "/api/echo", std::string(1025, 'a'));
  EXPECT_EQ(declared.status, 413);
  EXPECT_EQ(nlohmann::json::parse(declared.body)["error"], "payload_too_large");
  auto at_limit = http("POST", base_ + "/api/echo", std::string(1024, 'a'));
  EXPECT_EQ(at_limit.status, 201);
}

TEST_F(HttpServerTest, ChunkedRequestBodiesAreRefusedWithLengthRequired) {
  // Every API client sends Content-Length; refusing chunked bodies removes a smuggling vector.
  auto r = http("POST", base_ + "/api/echo", "tiny", {"Transfer-Encoding: chunked"});
  EXPECT_EQ(r.status, 411);
  EXPECT_EQ(nlohmann::json::parse(r.body)["error"], "length_required");
  EXPECT_EQ(http("GET", base_ + "/api/streams/1").status, 200);
}

TEST_F(HttpServerTest, ContentLengthWithTransferEncodingIsRefused) {
  // curl would not send both, so speak HTTP by hand.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string req =
      "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
      "Transfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n";
  ASSERT_EQ(write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[4096];
  ssize_t n = read(fd, buf, sizeof buf);
  close(fd);
  ASSERT_GT(n, 0);
  EXPECT_TRUE(std::string(buf, static_cast<size_t>(n)).starts_with("HTTP/1.1 400"));
}

TEST_F(HttpServerTest, AResponseMayBeCompletedLater) {
  auto fut = std::async(std::launch::async, [&] { return http("GET", base_ + "/later"); });
  later_arrived_.get_future().wait();
  lt_.sync([&] { deferred_.back().send(HttpResponse::json(202, {{"done", true}})); });
  auto r = fut.get();
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(nlohmann::json::parse(r.body)["done"], true);
}

TEST_F(HttpServerTest, AnsweringAClientThatLeftDoesNothing) {
  auto r = http("GET", base_ + "/later", "", {}, 200);  // gives up after 200 ms
  EXPECT_EQ(r.status, 0);
  later_arrived_.get_future().wait();
  lt_.sync([&] { deferred_.back().send(HttpResponse::json(200, {})); });
  EXPECT_EQ(http("GET", base_ + "/api/streams/1").status, 200) << "server still serving";
  EXPECT_TRUE(test::waitUntil([&] { return lt_.sync([&] { return server_->inFlight(); }) == 0; }));
  EXPECT_FALSE(lt_.sync([&] { return deferred_.back().pending(); }));
}

TEST_F(HttpServerTest, LargeResponsesArriveWhole) {
  auto r = http("GET", base_ + "/big");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), 1u << 20);
  EXPECT_EQ(r.body.find_first_not_of('b'), std::string::npos);
}

TEST_F(HttpServerTest, ServesHlsFilesWithTypesAndCacheHeaders) {
  auto playlist = http("GET", base_ + "/hls/s1/index.m3u8");
  ASSERT_EQ(playlist.status, 200);
  EXPECT_EQ(playlist.body, "#EXTM3U\n");
  EXPECT_EQ(playlist.headers["content-type"], "application/vnd.apple.mpegurl");
  EXPECT_EQ(playlist.headers["cache-control"], "no-cache");
  auto segment = http("GET", base_ + "/hls/s1/seg_0.m4s");
  ASSERT_EQ(segment.status, 200);
  EXPECT_EQ(segment.body.size(), 100000u);
  EXPECT_EQ(segment.headers["content-type"], "video/iso.segment");
  EXPECT_NE(segment.headers["cache-control"].find("max-age"), std::string::npos);
  EXPECT_EQ(http("GET", base_ + "/hls/s1/missing.m4s").status, 404);
  EXPECT_EQ(http("GET", base_ + "/hls/s1").status, 404) << "a directory is not a file";
}

TEST_F(HttpServerTest, PathTraversalNeverLeavesTheMount) {
  for (std::string path : {"/hls/../secret.txt", "/hls/%2e%2e/secret.txt", "/hls/s1/../../secret.txt",
                           "/hls/%2E%2E%2Fsecret.txt", "/hls/..%2fsecret.txt"}) {
    CURL* curl = curl_easy_init();
    std::string body;
    curl_easy_setopt(curl, CURLOPT_URL, (base_ + path).c_str());
    curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION,
                     +[](char* d, size_t s, size_t n, void* u) {
                       static_cast<std::string*>(u)->append(d, s * n);
                       return s * n;
                     });
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    EXPECT_EQ(body.find("top secret"), std::string::npos) << path;
    EXPECT_NE(status, 200) << path;
  }
}

TEST_F(HttpServerTest, StopAcceptingLetsRequestsInFlightFinish) {
  auto fut = std::async(std::launch::async, [&] { return http("GET", base_ + "/later"); });
  later_arrived_.get_future().wait();
  lt_.sync([&] { server_->stopAccepting(); });
  EXPECT_EQ(http("GET", base_ + "/api/streams/1", "", {}, 1000).status, 0) << "no new connections";
  EXPECT_EQ(lt_.sync([&] { return server_->inFlight(); }), 1u);
  lt_.sync([&] { deferred_.back().send(HttpResponse::json(200, {{"finished", true}})); });
  EXPECT_EQ(fut.get().status, 200);
}

TEST_F(HttpServerTest, AStreamedBodyIsPulledPieceByPieceAndChunked) {
  auto r = http("GET", base_ + "/stream?pieces=50");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["transfer-encoding"], "chunked");
  EXPECT_EQ(r.headers.count("content-length"), 0u);
  ASSERT_EQ(r.body.size(), 50u * 10 * 1024 + 3);
  EXPECT_EQ(r.body[0], 'a');
  EXPECT_EQ(r.body[10 * 1024], 'b');
  EXPECT_TRUE(r.body.ends_with("end"));
  EXPECT_EQ(pieces_asked_, 51) << "one request per piece, each after the previous was taken";
  auto head = http("HEAD", base_ + "/stream");
  EXPECT_EQ(head.status, 200);
}

TEST_F(HttpServerTest, AnAbortedStreamedBodyLooksTruncatedToTheClient) {
  auto r = http("GET", base_ + "/stream?pieces=2&abort=1");
  EXPECT_EQ(r.status, 0) << "curl reports the missing terminating chunk as an error";
  EXPECT_EQ(http("GET", base_ + "/api/streams/1").status, 200) << "server still serving";
}

// Answers read off a raw socket: the status of each response in order, and each body (the
// test routes answer small JSON bodies with a Content-Length).
std::vector<std::pair<int, std::string>> responsesIn(const std::string& raw) {
  std::vector<std::pair<int, std::string>> out;
  std::size_t at = 0;
  while ((at = raw.find("HTTP/1.1 ", at)) != std::string::npos) {
    int status = std::atoi(raw.c_str() + at + 9);
    auto head_end = raw.find("\r\n\r\n", at);
    auto cl = raw.find("content-length: ", at);
    if (head_end == std::string::npos || cl == std::string::npos || cl > head_end) break;
    std::size_t length = std::strtoul(raw.c_str() + cl + 16, nullptr, 10);
    if (raw.size() < head_end + 4 + length) break;
    out.emplace_back(status, raw.substr(head_end + 4, length));
    at = head_end + 4 + length;
  }
  return out;
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrderOnOneConnection) {
  test::RawSocket s(server_->port());
  ASSERT_TRUE(s.connected());
  s.send("GET /api/streams/a HTTP/1.1\r\nHost: x\r\n\r\nGET /later HTTP/1.1\r\nHost: x\r\n\r\n"
         "GET /api/streams/c HTTP/1.1\r\nHost: x\r\n\r\n");
  later_arrived_.get_future().wait();  // the second waits for its handler; the third behind it
  ASSERT_TRUE(s.readUntil([](const std::string& r) { return responsesIn(r).size() >= 1; }, std::chrono::seconds(5)));
  EXPECT_FALSE(s.readUntil([](const std::string& r) { return responsesIn(r).size() >= 2; }, std::chrono::milliseconds(200)))
      << "nothing overtakes the request still with its handler";
  lt_.sync([&] { deferred_.back().send(HttpResponse::json(202, {{"id", "b"}})); });
  ASSERT_TRUE(s.readUntil([](const std::string& r) { return responsesIn(r).size() >= 3; }, std::chrono::seconds(5)));
  auto answers = responsesIn(s.received());
  ASSERT_EQ(answers.size(), 3u);
  EXPECT_EQ(answers[0].first, 200);
  EXPECT_EQ(nlohmann::json::parse(answers[0].second)["id"], "a");
  EXPECT_EQ(answers[1].first, 202);
  EXPECT_EQ(nlohmann::json::parse(answers[2].second)["id"], "c");
  EXPECT_FALSE(s.closedByPeer());
}

// A keep-alive connection's requests share what the server keeps for them (HttpExchange is
// reused once nothing holds it); each request still sees only its own head and body.
TEST_F(HttpServerTest, EachRequestOnAKeptAliveConnectionSeesOnlyItsOwn) {
  test::RawSocket s(server_->port());
  ASSERT_TRUE(s.connected());
  auto answers = [&s](std::size_t n) {
    EXPECT_TRUE(s.readUntil([n](const std::string& r) { return responsesIn(r).size() >= n; },
                            std::chrono::seconds(5)));
    auto all = responsesIn(s.received());
    return all.size() >= n ? nlohmann::json::parse(all[n - 1].second) : nlohmann::json();
  };
  s.send("POST /api/inspect/a?x=1&y=2 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t0k\r\n"
         "Content-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc");
  auto first = answers(1);
  EXPECT_EQ(first["method"], "POST");
  EXPECT_EQ(first["params"]["id"], "a");
  EXPECT_EQ(first["query"].size(), 2u);
  EXPECT_EQ(first["body"], "abc");
  EXPECT_EQ(first["auth"], "Bearer t0k");
  EXPECT_EQ(first["type"], "text/plain");

  s.send("GET /api/inspect/b HTTP/1.1\r\nHost: x\r\n\r\n");
  auto second = answers(2);
  EXPECT_EQ(second["method"], "GET");
  EXPECT_EQ(second["path"], "/api/inspect/b");
  EXPECT_EQ(second["params"], nlohmann::json({{"id", "b"}}));
  EXPECT_TRUE(second["query"].empty());
  EXPECT_EQ(second["body"], "");
  EXPECT_EQ(second["auth"], "");
  EXPECT_EQ(second["type"], "");
}

// A handler may keep its responder after answering. The next request on the connection is
// then not given that exchange, so the old responder can neither answer it nor see it.
TEST_F(HttpServerTest, AResponderKeptAfterItsAnswerCannotAnswerTheNextRequest) {
  test::RawSocket s(server_->port());
  ASSERT_TRUE(s.connected());
  s.send("GET /held HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(test::waitUntil([&] { return held_count_ == 1; }));
  lt_.sync([&] { held_[0].send(HttpResponse::json(200, {{"n", 1}})); });
  ASSERT_TRUE(s.readUntil([](const std::string& r) { return responsesIn(r).size() >= 1; },
                          std::chrono::seconds(5)));

  s.send("GET /held HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(test::waitUntil([&] { return held_count_ == 2; }));
  lt_.sync([&] {
    EXPECT_FALSE(held_[0].pending());
    EXPECT_TRUE(held_[1].pending());
    held_[0].send(HttpResponse::json(500, {{"n", "stale"}}));  // does nothing
    held_[1].send(HttpResponse::json(200, {{"n", 2}}));
  });
  ASSERT_TRUE(s.readUntil([](const std::string& r) { return responsesIn(r).size() >= 2; },
                          std::chrono::seconds(5)));
  auto all = responsesIn(s.received());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].first, 200);
  EXPECT_EQ(nlohmann::json::parse(all[1].second)["n"], 2);
}

TEST_F(HttpServerTest, ExpectContinueIsAnsweredBeforeTheBodyIsSent) {
  test::RawSocket s(server_->port());
  s.send("POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 8\r\n"
         "Expect: 100-continue\r\n\r\n");
  ASSERT_TRUE(s.readUntil([](const std::string& r) { return r.find("\r\n\r\n") != std::string::npos; },
                          std::chrono::seconds(5)));
  EXPECT_TRUE(s.received().starts_with("HTTP/1.1 100 Continue\r\n\r\n")) << s.received();
  s.send(R"({"a":1})" " ");
  auto answered = [](const std::string& r) {
    auto at = r.find("HTTP/1.1 201");
    return at != std::string::npos && responsesIn(r.substr(at)).size() == 1;
  };
  ASSERT_TRUE(s.readUntil(answered, std::chrono::seconds(5))) << s.received();
  EXPECT_NE(s.received().find(R"(\"a\":1)"), std::string::npos) << "the body reached the handler";
}

TEST_F(HttpServerTest, Http10ClosesAfterTheAnswerUnlessAskedToKeepAlive) {
  {
    test::RawSocket s(server_->port());
    s.send("GET /api/streams/a HTTP/1.0\r\n\r\n");
    EXPECT_TRUE(s.waitClosed(std::chrono::seconds(5)));
    ASSERT_EQ(responsesIn(s.received()).size(), 1u) << s.received();
    EXPECT_NE(s.received().find("connection: close"), std::string::npos);
  }
  test::RawSocket s(server_->port());
  s.send("GET /api/streams/a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  ASSERT_TRUE(s.readUntil([](const std::string& r) { return responsesIn(r).size() == 1; }, std::chrono::seconds(5)));
  EXPECT_NE(s.received().find("connection: keep-alive"), std::string::npos);
  s.send("GET /api/streams/b HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(s.waitClosed(std::chrono::seconds(5)));
  ASSERT_EQ(responsesIn(s.received()).size(), 2u) << "the kept connection served a second request";
}

TEST_F(HttpServerTest, ARefusedBodyStillLetsTheClientReadTheAnswer) {
  // 413 is decided from the head; the client goes on sending its 256 KiB body. Closing at once
  // would reset the connection and could destroy the answer; it must arrive, then the close.
  test::RawSocket s(server_->port());
  s.send("POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 262144\r\n\r\n");
  std::string chunk(16 * 1024, 'x');
  for (int i = 0; i < 16; ++i) s.send(chunk);
  EXPECT_TRUE(s.waitClosed(std::chrono::seconds(10)));
  EXPECT_TRUE(s.received().starts_with("HTTP/1.1 413")) << s.received().substr(0, 100);
  EXPECT_EQ(http("GET", base_ + "/api/streams/1").status, 200);
}

TEST_F(HttpServerTest, IdleAndTrickledConnectionsAreClosedAtTheirDeadlines) {
  MetricsRegistry quick_metrics;
  std::unique_ptr<HttpServer> quick;
  int port = 0;
  lt_.sync([&] {
    HttpServerOptions options{"127.0.0.1", 0, 1024};
    options.header_timeout_s = 1;
    options.keepalive_timeout_s = 1;
    quick = std::make_unique<HttpServer>(lt_.loop(), quick_metrics, options);
    quick->route("GET", "/ok", [](HttpRequest&, HttpResponder r) { r.send(HttpResponse::json(200, {})); });
    ASSERT_TRUE(quick->start().has_value());
    port = quick->port();
  });
  test::RawSocket idle(port), trickle(port), silent(port);
  idle.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
  trickle.send("GET /ok HTTP/1.1\r\n");
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(idle.waitClosed(std::chrono::seconds(5))) << "idle keep-alive connection";
  EXPECT_EQ(responsesIn(idle.received()).size(), 1u);
  for (int i = 0; i < 4 && trickle.send("X-Slow: 1\r\n"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(trickle.waitClosed(std::chrono::seconds(5))) << "a head must arrive within header_timeout_s";
  EXPECT_EQ(trickle.received().find("200"), std::string::npos);
  EXPECT_TRUE(silent.waitClosed(std::chrono::seconds(5))) << "a connection that never sends";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(6));
  lt_.sync([&] { quick.reset(); });
}

// With no trusted proxy (the default) X-Forwarded-For is ignored: a client cannot choose its
// own address.
TEST_F(HttpServerTest, XForwardedForIsIgnoredWhenNoProxyIsTrusted) {
  auto r = http("GET", base_ + "/api/inspect/ip", "", {"X-Forwarded-For: 203.0.113.9"});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(nlohmann::json::parse(r.body)["remote_ip"], "127.0.0.1");
}

TEST_F(HttpServerTest, CountsResponsesInMetrics) {
  http("GET", base_ + "/api/streams/1");
  http("GET", base_ + "/nope");
  std::string text = metrics_.render();
  EXPECT_NE(text.find("bloomcast_http_responses_total{code=\"200\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("bloomcast_http_responses_total{code=\"404\"} 1"), std::string::npos);
}

// ---- behind a reverse proxy ---------------------------------------------------------------

// A server that trusts 127.0.0.1 as its proxy. Every 127.x.y.z is this host, so RawSocket can
// be the proxy (from 127.0.0.1) or a client reaching the server directly (from 127.0.0.9).
class HttpServerBehindProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lt_.sync([&] {
      HttpServerOptions options{"127.0.0.1", 0, 1024};
      options.trusted_proxies = *TrustedProxies::parse({"127.0.0.1", "10.0.0.0/8"});
      options.max_connections_per_ip = 3;
      server_ = std::make_unique<HttpServer>(lt_.loop(), metrics_, options);
      server_->route("GET", "/ip", [](HttpRequest& req, HttpResponder r) {
        r.send(HttpResponse::json(200, {{"remote_ip", req.remote_ip}}));
      });
      ASSERT_TRUE(server_->start().has_value());
    });
  }
  void TearDown() override {
    lt_.sync([&] { server_.reset(); });
  }
  // The remote_ip the server saw for each request sent on `s`, in order, once `n` answers are in.
  static std::vector<std::string> remoteIps(test::RawSocket& s, std::size_t n) {
    EXPECT_TRUE(s.readUntil([n](const std::string& r) { return responsesIn(r).size() >= n; },
                            std::chrono::seconds(5)));
    std::vector<std::string> ips;
    for (const auto& [status, body] : responsesIn(s.received()))
      ips.push_back(status == 200 ? nlohmann::json::parse(body)["remote_ip"].get<std::string>() : "status " + std::to_string(status));
    return ips;
  }
  static std::string get(std::string_view fields) { return "GET /ip HTTP/1.1\r\nHost: x\r\n" + std::string(fields) + "\r\n"; }
  bool metricIs(std::string_view line) { return metrics_.render().find(line) != std::string::npos; }

  LoopThread lt_;
  MetricsRegistry metrics_;
  std::unique_ptr<HttpServer> server_;
};

// The proxy's requests on one kept-alive connection: each request's client is the rightmost
// address in its own X-Forwarded-For that is not a trusted proxy; without the header it is the
// proxy; a list with an element that is not an address keeps the proxy's address, counted.
TEST_F(HttpServerBehindProxyTest, EachRequestOfATrustedProxyIsItsForwardedClient) {
  test::RawSocket proxy(server_->port(), "127.0.0.1");
  ASSERT_TRUE(proxy.connected());
  proxy.send(get("X-Forwarded-For: 198.51.100.1, 203.0.113.9, 10.0.0.2\r\n") +
             get("X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-For: 127.0.0.1\r\n") +
             get("X-Forwarded-For: [2001:DB8::9]:443\r\n") +
             get("X-Forwarded-For: ::ffff:203.0.113.8\r\n") +
             get("") +
             get("X-Forwarded-For: 10.0.0.5, 10.0.0.2\r\n") +
             get("X-Forwarded-For: 203.0.113.9, garbage, 10.0.0.2\r\n") +
             get("X-Forwarded-For: 203.0.113.10\r\n"));
  EXPECT_EQ(remoteIps(proxy, 8),
            (std::vector<std::string>{"203.0.113.9", "203.0.113.7", "2001:db8::9", "203.0.113.8", "127.0.0.1",
                                      "10.0.0.5", "127.0.0.1", "203.0.113.10"}));
  EXPECT_TRUE(metricIs("bloomcast_http_forwarded_for_invalid_total 1\n")) << metrics_.render();
}

// A client that reaches the server directly cannot choose its address by sending the header.
TEST_F(HttpServerBehindProxyTest, AnUntrustedPeersXForwardedForIsIgnored) {
  test::RawSocket direct(server_->port(), "127.0.0.9");
  ASSERT_TRUE(direct.connected());
  direct.send(get("X-Forwarded-For: 203.0.113.9\r\n") + get("X-Forwarded-For: garbage\r\n"));
  EXPECT_EQ(remoteIps(direct, 2), (std::vector<std::string>{"127.0.0.9", "127.0.0.9"}));
  EXPECT_TRUE(metricIs("bloomcast_http_forwarded_for_invalid_total 0\n")) << "an ignored header is not read at all";
}

// A proxy carries many clients' connections: max_connections_per_ip (3 here) does not apply to
// it, and still applies to everyone else.
TEST_F(HttpServerBehindProxyTest, ATrustedProxyIsNotHeldToTheConnectionCap) {
  auto open = [&](const std::string& from, int n) {
    std::vector<std::unique_ptr<test::RawSocket>> sockets;
    for (int i = 0; i < n; ++i) {
      sockets.push_back(std::make_unique<test::RawSocket>(server_->port(), from));
      EXPECT_TRUE(sockets.back()->connected());
    }
    return sockets;
  };
  // Served: the request on it is answered; refused: closed at accept, unanswered.
  auto served = [](test::RawSocket& s) {
    s.send(get(""));
    s.readUntil([](const std::string& r) { return !responsesIn(r).empty(); }, std::chrono::seconds(5));
    return responsesIn(s.received()).size() == 1;
  };
  auto proxy = open("127.0.0.1", 10);
  for (auto& s : proxy) EXPECT_TRUE(served(*s));
  auto direct = open("127.0.0.9", 5);
  int answered = 0;
  for (auto& s : direct) answered += served(*s) ? 1 : 0;
  EXPECT_EQ(answered, 3);
  EXPECT_TRUE(metricIs("bloomcast_http_connections_refused_total 2\n")) << metrics_.render();
}

}  // namespace
}  // namespace bloomcast
