// Router: which handler answers a (method, path), and what it is told about the path.
#include "infra/Router.h"

#include <gtest/gtest.h>

namespace bloomcast {
namespace {

using R = Router<std::string>;

R apiRouter() {
  R r;
  r.add("GET", "/api/streams", "list");
  r.add("POST", "/api/streams", "create");
  r.add("GET", "/api/streams/:id", "get");
  r.add("POST", "/api/streams/:id/products", "add-product");
  r.add("GET", "/hls/*path", "hls");
  return r;
}

TEST(Router, MatchesExactPathsByMethod) {
  auto r = apiRouter();
  auto get = std::get<R::Match>(r.match("GET", "/api/streams"));
  EXPECT_EQ(*get.handler, "list");
  auto post = std::get<R::Match>(r.match("POST", "/api/streams"));
  EXPECT_EQ(*post.handler, "create");
}

TEST(Router, BindsNamedSegments) {
  auto r = apiRouter();
  auto m = std::get<R::Match>(r.match("POST", "/api/streams/s42/products"));
  EXPECT_EQ(*m.handler, "add-product");
  EXPECT_EQ(m.params.at("id"), "s42");
}

TEST(Router, WildcardTakesTheRestOfThePath) {
  auto r = apiRouter();
  auto m = std::get<R::Match>(r.match("GET", "/hls/s1/720p/seg_3.m4s"));
  EXPECT_EQ(m.params.at("path"), "s1/720p/seg_3.m4s");
  auto empty = std::get<R::Match>(r.match("GET", "/hls/"));
  EXPECT_EQ(empty.params.at("path"), "");
}

TEST(Router, UnknownPathIsNotFound) {
  auto r = apiRouter();
  EXPECT_TRUE(std::holds_alternative<R::NotFound>(r.match("GET", "/api/nothing")));
  EXPECT_TRUE(std::holds_alternative<R::NotFound>(r.match("GET", "/api/streams/1/products/2")));
  EXPECT_TRUE(std::holds_alternative<R::NotFound>(r.match("GET", "/api")));
}

TEST(Router, KnownPathWithWrongMethodListsAllowedMethods) {
  auto r = apiRouter();
  auto na = std::get<R::MethodNotAllowed>(r.match("DELETE", "/api/streams"));
  EXPECT_EQ(na.allowed, (std::vector<std::string>{"GET", "POST"}));
  auto one = std::get<R::MethodNotAllowed>(r.match("GET", "/api/streams/7/products"));
  EXPECT_EQ(one.allowed, (std::vector<std::string>{"POST"}));
}

TEST(Router, HeadIsAnsweredByGet) {
  auto r = apiRouter();
  auto m = std::get<R::Match>(r.match("HEAD", "/api/streams/9"));
  EXPECT_EQ(*m.handler, "get");
}

TEST(Router, RepeatedAndTrailingSlashesDoNotChangeTheMatch) {
  auto r = apiRouter();
  EXPECT_EQ(*std::get<R::Match>(r.match("GET", "/api/streams/")).handler, "list");
  EXPECT_EQ(*std::get<R::Match>(r.match("GET", "//api//streams")).handler, "list");
}

TEST(Router, RoutesOfAMethodAreTriedInTheOrderAdded) {
  R r;
  r.add("GET", "/api/streams/:id", "by-id");
  r.add("POST", "/api/streams/live", "post-live");
  r.add("GET", "/api/streams/live", "live");  // shadowed: the pattern before it matches first
  r.add("GET", "/api/*rest", "rest");
  EXPECT_EQ(*std::get<R::Match>(r.match("GET", "/api/streams/live")).handler, "by-id");
  EXPECT_EQ(*std::get<R::Match>(r.match("HEAD", "/api/streams/live")).handler, "by-id");
  EXPECT_EQ(*std::get<R::Match>(r.match("POST", "/api/streams/live")).handler, "post-live");
  // A path of another length than the fixed patterns falls through to the wildcard.
  auto rest = std::get<R::Match>(r.match("GET", "/api/streams/7/products"));
  EXPECT_EQ(*rest.handler, "rest");
  EXPECT_EQ(rest.params.at("rest"), "streams/7/products");
  EXPECT_EQ(std::get<R::Match>(r.match("GET", "/api")).params.at("rest"), "");
  EXPECT_TRUE(std::holds_alternative<R::NotFound>(r.match("GET", "/other")));
}

TEST(Router, FixedPathsAreFoundForTheirOwnMethodOnly) {
  R r;
  r.add("GET", "/", "root");
  r.add("POST", "/api/orders", "place");
  r.add("GET", "/api/orders", "list");
  r.add("GET", "/api/orders/:id", "one");
  EXPECT_EQ(*std::get<R::Match>(r.match("GET", "/")).handler, "root");
  EXPECT_EQ(*std::get<R::Match>(r.match("GET", "//")).handler, "root");
  EXPECT_EQ(*std::get<R::Match>(r.match("POST", "/api/orders")).handler, "place");
  EXPECT_EQ(*std::get<R::Match>(r.match("GET", "/api/orders")).handler, "list");
  EXPECT_TRUE(std::get<R::Match>(r.match("POST", "/api/orders")).params.empty());
  EXPECT_EQ(std::get<R::MethodNotAllowed>(r.match("PUT", "/api/orders")).allowed,
            (std::vector<std::string>{"POST", "GET"}));
  EXPECT_EQ(std::get<R::Match>(r.match("GET", "/api/orders/o-1")).params.at("id"), "o-1");
}

TEST(Router, AWildcardOnlyEndsAPattern) {
  R r;
  EXPECT_THROW(r.add("GET", "/hls/*path/index.m3u8", "bad"), std::invalid_argument);
  EXPECT_NO_THROW(r.add("GET", "/hls/*path", "good"));
}

}  // namespace
}  // namespace bloomcast
