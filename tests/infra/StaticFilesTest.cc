// safeJoin: a URL path below a mount never reaches outside the mounted directory.
#include "infra/HttpServer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "TestSupport.h"

namespace bloomcast {
namespace {
namespace fs = std::filesystem;

TEST(SafeJoin, ResolvesPlainPathsInsideRoot) {
  test::TempDir dir;
  fs::create_directories(dir.path() + "/hls/s1");
  std::ofstream(dir.path() + "/hls/s1/index.m3u8") << "#EXTM3U\n";
  auto p = safeJoin(dir.path() + "/hls", "s1/index.m3u8");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(*p, fs::canonical(dir.path() + "/hls/s1/index.m3u8").string());
}

TEST(SafeJoin, RefusesTraversal) {
  test::TempDir dir;
  fs::create_directories(dir.path() + "/hls");
  EXPECT_FALSE(safeJoin(dir.path() + "/hls", "../secret").has_value());
  EXPECT_FALSE(safeJoin(dir.path() + "/hls", "s1/../../secret").has_value());
  EXPECT_FALSE(safeJoin(dir.path() + "/hls", "./x").has_value());
  EXPECT_FALSE(safeJoin(dir.path() + "/hls", "..\\secret").has_value());
  EXPECT_FALSE(safeJoin(dir.path() + "/hls", std::string("a\0b", 3)).has_value());
}

TEST(SafeJoin, RefusesSymlinksThatLeaveRoot) {
  test::TempDir dir;
  fs::create_directories(dir.path() + "/hls");
  std::ofstream(dir.path() + "/secret") << "x";
  fs::create_symlink(dir.path() + "/secret", dir.path() + "/hls/link");
  EXPECT_FALSE(safeJoin(dir.path() + "/hls", "link").has_value());
}

TEST(ContentType, KnowsWebAndHlsTypes) {
  EXPECT_EQ(contentTypeFor("a/index.m3u8"), "application/vnd.apple.mpegurl");
  EXPECT_EQ(contentTypeFor("seg_1.m4s"), "video/iso.segment");
  EXPECT_EQ(contentTypeFor("seg_1.ts"), "video/mp2t");
  EXPECT_EQ(contentTypeFor("app.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(contentTypeFor("noext"), "application/octet-stream");
}

}  // namespace
}  // namespace bloomcast
