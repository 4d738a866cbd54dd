// A live publisher loses the right to broadcast when its stream key is rotated (the usual answer
// to a leaked key) or its stream is ended: a real bloomcast, a real ffmpeg publishing over RTMP,
// and the key asked of the catalog again every 200 ms (--publisher-recheck-ms).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "TestSupport.h"

namespace bloomcast {
namespace {

using namespace test;
using nlohmann::json;

const std::string kAdmin = "revocation-test-admin-token-0123456789abcdef";

class PublisherRevocation : public ::testing::Test {
 protected:
  void SetUp() override {
    b_ = startBloomcast(dir_.path() + "/data", {"--admin-token", kAdmin, "--renditions", "source",
                                                "--publisher-recheck-ms", "200"});
    ASSERT_TRUE(waitUntil([&] { return http("GET", b_.base_url + "/healthz").status == 200; }));
    auto factory = call("POST", "/api/factories", {{"name", "东莞一厂"}});
    ASSERT_EQ(factory.status, 201);
    auto stream = call("POST", "/api/streams", {{"title", "夜场"}, {"factory_id", json::parse(factory.body)["id"]}});
    ASSERT_EQ(stream.status, 201);
    id_ = json::parse(stream.body)["id"];
    key_ = json::parse(stream.body)["stream_key"];
  }

  HttpResult call(const std::string& method, const std::string& path, const json& body = nullptr) {
    return http(method, b_.base_url + path, body.is_null() ? "" : body.dump(),
                {"Content-Type: application/json", "Authorization: Bearer " + kAdmin});
  }
  std::string status() {
    auto r = call("GET", "/api/streams/" + id_);
    return r.status == 200 ? json::parse(r.body).value("status", "") : "";
  }
  // An encoder that would go on for a minute unless the server ends it.
  std::unique_ptr<Process> publish(const std::string& key, const std::string& seconds = "60") {
    return std::make_unique<Process>(std::vector<std::string>{
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-f", "lavfi", "-i",
        "testsrc2=size=160x90:rate=10", "-t", seconds, "-c:v", "libx264", "-preset", "ultrafast",
        "-g", "10", "-f", "flv", "rtmp://127.0.0.1:" + std::to_string(b_.rtmp_port) + "/live/" + key});
  }

  TempDir dir_;
  RunningBloomcast b_;
  std::string id_, key_;
};

TEST_F(PublisherRevocation, RotatingTheKeyCutsOffTheLivePublisherAndOnlyTheNewKeyPublishes) {
  auto encoder = publish(key_);
  ASSERT_TRUE(waitUntil([&] { return status() == "live"; }, std::chrono::seconds(20)));

  auto rotated = call("POST", "/api/streams/" + id_ + "/key");
  ASSERT_EQ(rotated.status, 200);
  std::string new_key = json::parse(rotated.body)["stream_key"];
  ASSERT_NE(new_key, key_);

  // Cut off: the encoder fails well before its minute is up, and the stream is offline.
  int exit_status = encoder->wait(std::chrono::seconds(20));
  EXPECT_NE(exit_status, -1) << "the publisher with the rotated key was not cut off";
  EXPECT_NE(exit_status, 0);
  EXPECT_TRUE(waitUntil([&] { return status() == "offline"; }));
  EXPECT_NE(b_.process->output().find("cut off: stream key revoked"), std::string::npos);
  auto metrics = http("GET", b_.base_url + "/metrics").body;
  EXPECT_NE(metrics.find("bloomcast_rtmp_publishers_revoked_total 1"), std::string::npos);

  EXPECT_NE(publish(key_, "1")->wait(std::chrono::seconds(30)), 0) << "the old key is refused";
  EXPECT_EQ(publish(new_key, "1")->wait(std::chrono::seconds(30)), 0) << "the new key publishes";
}

TEST_F(PublisherRevocation, EndingTheStreamCutsOffItsPublisherUntilTheStreamIsReopened) {
  auto encoder = publish(key_);
  ASSERT_TRUE(waitUntil([&] { return status() == "live"; }, std::chrono::seconds(20)));

  ASSERT_EQ(call("POST", "/api/streams/" + id_ + "/status", {{"status", "ended"}}).status, 200);
  int exit_status = encoder->wait(std::chrono::seconds(20));
  EXPECT_NE(exit_status, -1) << "the publisher of an ended stream was not cut off";
  EXPECT_NE(exit_status, 0);
  EXPECT_NE(b_.process->output().find("cut off: stream ended"), std::string::npos);
  EXPECT_EQ(status(), "ended") << "the publisher leaving does not reopen the stream";

  auto refused = publish(key_, "1");
  EXPECT_NE(refused->wait(std::chrono::seconds(30)), 0) << "an ended stream takes no publisher";
  EXPECT_NE(b_.process->output().find("publish refused: this stream has ended"), std::string::npos);
  EXPECT_EQ(status(), "ended");

  ASSERT_EQ(call("POST", "/api/streams/" + id_ + "/status", {{"status", "offline"}}).status, 200);
  EXPECT_EQ(publish(key_, "1")->wait(std::chrono::seconds(30)), 0) << "reopened, the same key publishes";
}

}  // namespace
}  // namespace bloomcast
