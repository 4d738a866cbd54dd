// The pages (issue 7): bloomcast answers /, /live/ID, /studio and /dashboard with the HTML files
// of web_dir, never cached, while /static assets keep their caching.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "TestSupport.h"

namespace bloomcast {
namespace {

using namespace test;

TEST(Pages, EachPageRouteAnswersItsHtmlFileUncached) {
  TempDir dir;
  std::string web = dir.path() + "/web";
  std::filesystem::create_directories(web + "/src");
  for (const char* page : {"index", "live", "studio", "dashboard"})
    std::ofstream(web + "/" + page + ".html") << "<!doctype html><title>" << page << "</title>";
  std::ofstream(web + "/src/app.js") << "export {};";
  auto bc = startBloomcast(dir.path() + "/data", {"--web-dir", web, "--renditions", "source"});
  ASSERT_TRUE(bc.process) << "bloomcast did not start";

  for (auto [path, page] : std::vector<std::pair<std::string, std::string>>{
           {"/", "index"}, {"/live/42", "live"}, {"/studio", "studio"}, {"/dashboard", "dashboard"}}) {
    auto r = http("GET", bc.base_url + path);
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_NE(r.body.find("<title>" + page + "</title>"), std::string::npos) << path;
    EXPECT_NE(r.headers["content-type"].find("text/html"), std::string::npos) << path;
    EXPECT_EQ(r.headers["cache-control"], "no-cache") << path;
  }
  auto asset = http("GET", bc.base_url + "/static/src/app.js");
  EXPECT_EQ(asset.status, 200);
  EXPECT_EQ(asset.headers["cache-control"], "public, max-age=300");
  EXPECT_NE(asset.headers["content-type"].find("text/javascript"), std::string::npos);
  EXPECT_EQ(http("GET", bc.base_url + "/live").status, 404) << "a viewer page needs a stream id";
  EXPECT_EQ(http("GET", bc.base_url + "/live/1/extra").status, 404);
}

TEST(Pages, MissingPagesAreA404InWordsNotACrash) {
  TempDir dir;
  auto bc = startBloomcast(dir.path() + "/data", {"--web-dir", dir.path() + "/nothing-here"});
  ASSERT_TRUE(bc.process);
  auto r = http("GET", bc.base_url + "/studio");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("not built"), std::string::npos) << r.body;
  EXPECT_EQ(http("GET", bc.base_url + "/healthz").status, 200);
}

}  // namespace
}  // namespace bloomcast
