// Config: defaults, then the TOML file, then BLOOMCAST_* variables, then flags.
#include "infra/Config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace bloomcast {
namespace {

// Parses a command line for `bloomcast serve` into flags.
struct Parsed {
  CLI::App app;
  ConfigFlags flags;
  explicit Parsed(std::vector<std::string> args) {
    flags.addTo(app);
    std::reverse(args.begin(), args.end());
    app.parse(args);
  }
};

std::vector<char*> envBlock(std::vector<std::string>& storage) {
  std::vector<char*> env;
  for (auto& s : storage) env.push_back(s.data());
  env.push_back(nullptr);
  return env;
}

TEST(Config, DefaultsMatchTheDesign) {
  Parsed p({});
  std::vector<std::string> storage;
  auto env = envBlock(storage);
  auto c = resolveConfig(p.flags, env.data());
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->http_port, 8080);
  EXPECT_EQ(c->rtmp_port, 1935);
  EXPECT_EQ(c->redis, "");
  EXPECT_EQ(c->log_level, "info");
  EXPECT_EQ(c->renditions, (std::vector<std::string>{"source", "720p", "480p", "360p"}));
  EXPECT_TRUE(c->rate_limits);
  EXPECT_EQ(c->max_body_bytes, 16 * 1024);
}

TEST(Config, EachLayerOverridesTheOneBefore) {
  auto dir = std::filesystem::temp_directory_path() / "bloomcast-config-test";
  std::filesystem::create_directories(dir);
  std::string file = (dir / "c.toml").string();
  std::ofstream(file) << "http_port = 9001\nrtmp_port = 9002\nlog_level = \"warn\"\n"
                         "renditions = [\"source\", \"480p\"]\nrate_limits = false\n";
  // The file sets four values; the environment overrides two; flags override one of those.
  std::vector<std::string> storage = {"BLOOMCAST_RTMP_PORT=9102", "BLOOMCAST_LOG_LEVEL=debug",
                                      "UNRELATED=1"};
  auto env = envBlock(storage);
  Parsed p({"--config", file, "--log-level", "error"});
  auto c = resolveConfig(p.flags, env.data());
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->http_port, 9001);      // file
  EXPECT_EQ(c->rtmp_port, 9102);      // environment over file
  EXPECT_EQ(c->log_level, "error");   // flag over environment over file
  EXPECT_EQ(c->renditions, (std::vector<std::string>{"source", "480p"}));
  EXPECT_FALSE(c->rate_limits);
  std::filesystem::remove_all(dir);
}

TEST(Config, ConfigFileMayComeFromTheEnvironment) {
  auto dir = std::filesystem::temp_directory_path() / "bloomcast-config-test2";
  std::filesystem::create_directories(dir);
  std::string file = (dir / "c.toml").string();
  std::ofstream(file) << "redis = \"unix:/tmp/r.sock\"\n";
  std::vector<std::string> storage = {"BLOOMCAST_CONFIG=" + file};
  auto env = envBlock(storage);
  Parsed p({});
  auto c = resolveConfig(p.flags, env.data());
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->redis, "unix:/tmp/r.sock");
  std::filesystem::remove_all(dir);
}

TEST(Config, FlagsUseTheDesignNames) {
  Parsed p({"--http-port", "1", "--rtmp-port", "2", "--data-dir", "/d", "--redis", "redis://h:3",
            "--admin-token", "tok", "--log-level", "trace", "--renditions", "source,720p",
            "--rate-limits", "off"});
  std::vector<std::string> storage;
  auto env = envBlock(storage);
  auto c = resolveConfig(p.flags, env.data());
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->http_port, 1);
  EXPECT_EQ(c->rtmp_port, 2);
  EXPECT_EQ(c->data_dir, "/d");
  EXPECT_EQ(c->redis, "redis://h:3");
  EXPECT_EQ(c->admin_token, "tok");
  EXPECT_EQ(c->log_level, "trace");
  EXPECT_EQ(c->renditions, (std::vector<std::string>{"source", "720p"}));
  EXPECT_FALSE(c->rate_limits);
}

TEST(Config, BadValuesNameTheLayerAndSetting) {
  Config c;
  auto r = applyConfigLayer(c, ConfigLayer{"environment", {{"http_port", "80x"}}});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, "bad_config");
  EXPECT_NE(r.error().message.find("environment: http_port"), std::string::npos);
  EXPECT_FALSE(applyConfigLayer(c, ConfigLayer{"f", {{"http_port", "70000"}}}).has_value());
  EXPECT_FALSE(applyConfigLayer(c, ConfigLayer{"f", {{"rate_limits", "maybe"}}}).has_value());
  EXPECT_FALSE(applyConfigLayer(c, ConfigLayer{"f", {{"log_level", "loud"}}}).has_value());
  EXPECT_FALSE(applyConfigLayer(c, ConfigLayer{"f", {{"no_such_thing", "1"}}}).has_value());
  EXPECT_FALSE(applyConfigLayer(c, ConfigLayer{"f", {{"renditions", " , "}}}).has_value());
}

// Threads that write one chat tick: 2 by default (the loop thread and one helper), 1..16.
// The chat fan-out settings: defaults, bounds, and the flag spelling.
TEST(Config, FanoutSettingsAreBounded) {
  struct Case {
    const char* key;
    int Config::*field;
    int fallback, ok, below, above;
    const char* flag;
    int flag_value;
  };
  for (const Case& t : {Case{"fanout_threads", &Config::fanout_threads, 2, 1, 0, 17, "--fanout-threads", 4},
                        Case{"fanout_slice", &Config::fanout_slice, 256, 1024, 15, 65537, "--fanout-slice", 64}}) {
    SCOPED_TRACE(t.key);
    Config c;
    EXPECT_EQ(c.*t.field, t.fallback);
    ASSERT_TRUE(applyConfigLayer(c, ConfigLayer{"f", {{t.key, std::to_string(t.ok)}}}).has_value());
    EXPECT_EQ(c.*t.field, t.ok);
    EXPECT_FALSE(applyConfigLayer(c, ConfigLayer{"f", {{t.key, std::to_string(t.below)}}}).has_value());
    EXPECT_FALSE(applyConfigLayer(c, ConfigLayer{"f", {{t.key, std::to_string(t.above)}}}).has_value());
    Parsed p({t.flag, std::to_string(t.flag_value)});
    std::vector<std::string> storage;
    auto env = envBlock(storage);
    auto resolved = resolveConfig(p.flags, env.data());
    ASSERT_TRUE(resolved.has_value()) << resolved.error().message;
    EXPECT_EQ((*resolved).*t.field, t.flag_value);
  }
}

TEST(Config, BrokenTomlReportsTheLine) {
  auto r = configLayerFromToml("http_port = 1\nrtmp_port = = 2\n", "bad.toml");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("bad.toml:2"), std::string::npos) << r.error().message;
  auto nested = configLayerFromToml("[section]\nx = 1\n", "n.toml");
  EXPECT_FALSE(nested.has_value());
}

// Regression (found by fuzz_config): toml++ 3.3.0 reaches an "unreachable" point when a
// non-ASCII character of some ranges stands where whitespace may ("。" or "§" after a value;
// marzer/tomlplusplus#190, #295). Debian's build of it treats the character as no whitespace,
// so the file is refused on that line; this pins that the server's toml++ still does.
TEST(Config, AStrayNonAsciiCharacterAfterAValueIsAnErrorOnItsLine) {
  struct Case {
    const char* text;
    const char* where;
  };
  for (auto [text, where] : {Case{"http_port = 8080\u3002\n", "s.toml:1"},
                             Case{"http_port = 8080 \u00a7\n", "s.toml:1"},
                             Case{"bind = \"::\"\nrtmp_port = 1935\u03a0\n", "s.toml:2"}}) {
    auto r = configLayerFromToml(text, "s.toml");
    ASSERT_FALSE(r.has_value()) << text;
    EXPECT_EQ(r.error().code, "bad_config");
    EXPECT_NE(r.error().message.find(where), std::string::npos) << r.error().message;
  }
}

}  // namespace
}  // namespace bloomcast
