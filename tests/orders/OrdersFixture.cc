#include "OrdersFixture.h"

#include <deque>

#include "orders/Keys.h"

namespace bloomcast::orders::test {
namespace {

size_t collect(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

int64_t toInt(const std::string& s) {
  try {
    return std::stoll(s);
  } catch (...) {
    return 0;
  }
}

}  // namespace

std::vector<Reply> runConcurrently(const std::string& base_url, const std::vector<Request>& requests,
                                   int connections, long timeout_ms) {
  std::vector<Reply> replies(requests.size());
  CURLM* multi = curl_multi_init();
  curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(connections));
  struct Slot {
    CURL* easy = nullptr;
    curl_slist* headers = nullptr;
    std::size_t index = 0;
  };
  std::vector<Slot> slots(static_cast<std::size_t>(connections));
  std::size_t next = 0;
  auto launch = [&](Slot& slot) {
    if (next >= requests.size()) return false;
    slot.index = next++;
    const Request& q = requests[slot.index];
    if (!slot.easy) slot.easy = curl_easy_init();
    CURL* e = slot.easy;
    curl_slist_free_all(slot.headers);
    slot.headers = curl_slist_append(nullptr, "Content-Type: application/json");
    if (!q.token.empty()) slot.headers = curl_slist_append(slot.headers, ("Authorization: Bearer " + q.token).c_str());
    curl_easy_setopt(e, CURLOPT_URL, (base_url + q.path).c_str());
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, q.method.c_str());
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, q.body.c_str());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(q.body.size()));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, slot.headers);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &replies[slot.index].body);
    curl_easy_setopt(e, CURLOPT_PRIVATE, &slot);
    curl_multi_add_handle(multi, e);
    return true;
  };
  for (auto& slot : slots) launch(slot);
  int running = 1;
  while (running > 0 || next < requests.size()) {
    curl_multi_perform(multi, &running);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Slot* slot = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &slot);
      if (msg->data.result == CURLE_OK)
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &replies[slot->index].status);
      curl_multi_remove_handle(multi, msg->easy_handle);
      if (launch(*slot)) running = 1;
    }
    if (running > 0) curl_multi_poll(multi, nullptr, 0, 100, nullptr);
  }
  for (auto& slot : slots) {
    if (slot.easy) curl_easy_cleanup(slot.easy);
    curl_slist_free_all(slot.headers);
  }
  curl_multi_cleanup(multi);
  return replies;
}

void OrdersFixture::start(std::vector<std::string> redis_config,
                          std::function<void(OrdersOptions&)> configure,
                          std::function<void(HttpServerOptions&)> configure_http) {
  redis_server_ = std::make_unique<RedisServer>(RedisServer::Mode::Unix, std::move(redis_config));
  OrdersOptions options;
  options.admin_token = kAdmin;
  options.rate_limits = false;
  options.expiry_interval_ms = 0;
  options.clock = [this] { return api::systemClockMs() + clock_offset_ms_.load(); };
  if (configure) configure(options);
  lt_.sync([&] {
    redis_ = std::make_unique<RedisClient>(lt_.loop(), *parseRedisAddress(redis_server_->url()));
    redis_->start();
    HttpServerOptions http_options{"127.0.0.1", 0};
    if (configure_http) configure_http(http_options);
    http_ = std::make_unique<HttpServer>(lt_.loop(), metrics_, http_options);
    module_ = std::make_unique<OrdersModule>(lt_.loop(), *redis_, *http_, metrics_, options);
    ASSERT_TRUE(http_->start().has_value());
    base_ = "http://127.0.0.1:" + std::to_string(http_->port());
  });
  ASSERT_TRUE(waitUntil([&] { return lt_.sync([&] { return redis_->connected(); }); }));
}

void OrdersFixture::TearDown() {
  lt_.sync([&] {
    if (redis_) redis_->close();  // pending replies call back while the module still lives
    module_.reset();
    http_.reset();
    redis_.reset();
  });
}

HttpResult OrdersFixture::call(const std::string& method, const std::string& path,
                               const nlohmann::json& body, const std::string& token,
                               const std::vector<std::string>& extra_headers) {
  std::vector<std::string> headers{"Content-Type: application/json"};
  headers.insert(headers.end(), extra_headers.begin(), extra_headers.end());
  if (!token.empty()) headers.push_back("Authorization: Bearer " + token);
  return http(method, base_ + path, body.is_null() ? "" : body.dump(), headers);
}

HttpResult OrdersFixture::get(const std::string& path, const std::string& token) {
  std::vector<std::string> headers;
  if (!token.empty()) headers.push_back("Authorization: Bearer " + token);
  return http("GET", base_ + path, "", headers);
}

Created OrdersFixture::createFactory(const std::string& name) {
  auto r = call("POST", "/api/factories", {{"name", name}}, kAdmin);
  EXPECT_EQ(r.status, 201) << r.body;
  auto j = nlohmann::json::parse(r.body);
  return {j["id"], j["token"]};
}

Created OrdersFixture::createStream(const Created& factory, const std::string& title) {
  auto r = call("POST", "/api/streams", {{"title", title}}, factory.secret);
  EXPECT_EQ(r.status, 201) << r.body;
  auto j = nlohmann::json::parse(r.body);
  return {j["id"], j["stream_key"]};
}

void OrdersFixture::addProduct(const std::string& stream, const std::string& sku,
                               int64_t price_cents, int64_t stock, int64_t limit_per_buyer,
                               const std::string& title) {
  auto r = call("POST", "/api/streams/" + stream + "/products",
                {{"sku", sku}, {"title", title}, {"price_cents", price_cents}, {"stock", stock},
                 {"limit_per_buyer", limit_per_buyer}},
                kAdmin);
  ASSERT_EQ(r.status, 201) << r.body;
}

std::string OrdersFixture::newSession(const std::string& name) {
  auto r = call("POST", "/api/sessions", {{"name", name}}, "");
  EXPECT_EQ(r.status, 201) << r.body;
  return nlohmann::json::parse(r.body)["token"];
}

Request OrdersFixture::orderRequest(const std::string& token, const std::string& stream,
                                    const std::string& sku, int64_t qty, const std::string& key) {
  nlohmann::json body = {{"stream", stream}, {"sku", sku}, {"qty", qty}, {"idempotency_key", key}};
  return Request{"POST", "/api/orders", body.dump(), token};
}

HttpResult OrdersFixture::order(const std::string& token, const std::string& stream,
                                const std::string& sku, int64_t qty, const std::string& key) {
  return call("POST", "/api/orders",
              {{"stream", stream}, {"sku", sku}, {"qty", qty}, {"idempotency_key", key}}, token);
}

int64_t OrdersFixture::stockOf(const std::string& stream, const std::string& sku) {
  return toInt(redis_server_->command({"HGET", keys::stock(stream), sku}));
}

int64_t OrdersFixture::statOf(const std::string& stream, const std::string& field) {
  return toInt(redis_server_->command({"HGET", keys::stats(stream), field}));
}

int64_t OrdersFixture::eventCount(const std::string& stream) {
  return toInt(redis_server_->command({"XLEN", keys::events(stream)}));
}

int64_t OrdersFixture::commandCalls(const std::string& command) {
  std::string stats = redis_server_->command({"INFO", "commandstats"});
  std::string field = "cmdstat_" + command + ":calls=";
  auto at = stats.find(field);
  return at == std::string::npos ? 0 : std::stoll(stats.substr(at + field.size()));
}

}  // namespace bloomcast::orders::test
