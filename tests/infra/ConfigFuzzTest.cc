// Mutation fuzzing of the configuration path (TOML text -> layer -> Config): every input either
// applies or yields an Error that names its source; nothing crashes, hangs or throws. Run under
// the ASan+UBSan build as well. (The libFuzzer target is tests/fuzz/fuzz_config.cc; why both: see
// tests/support/Mutator.h.)
#include <gtest/gtest.h>

#include "Mutator.h"
#include "infra/Config.h"

namespace bloomcast {
namespace {

TEST(ConfigFuzz, MutatedTomlNeverCrashesAndErrorsNameTheirSource) {
  test::Mutator mutator(
      {"http_port = 8080\nrtmp_port = 1935\nrenditions = [\"source\", \"720p\"]\n",
       "bind = \"127.0.0.1\"\nrate_limits = false\nmax_body_bytes = 16384\n",
       "data_dir = \"/tmp/x\"\nlog_level = \"warn\"\nhls_segment_ms = 2000\n[section]\nk = 1\n",
       "renditions = \"source,480p:800\"\nadmin_token = 'abc'\norder_expiry_s = 900\n",
       "trusted_proxies = [\"10.0.0.0/8\", \"::1\", \"fd00::/8\"]\nmax_connections_per_ip = 1000\n"},
      {"=", "\"", "'", "[", "]", "{", "}", ",", "\n", "#", "\\u0000", "1e999", "-1", "99999999999999999999",
       "true", "\"\"\"", "[[a]]", "inf", "nan", "0x10", "1979-05-27T07:32:00Z", "max_connections_per_ip = ",
       "trusted_proxies = [\"10.0.0.0/8\", ", "/33", "::ffff:", "renditions = [", "http_port = ", "\xff", "好"});
  int applied = 0, refused = 0;
  for (int i = 0; i < 100000; ++i) {
    std::string text = mutator.next();
    auto layer = configLayerFromToml(text, "fuzz.toml");
    if (!layer) {
      EXPECT_NE(layer.error().message.find("fuzz.toml"), std::string::npos) << layer.error().message;
      ++refused;
      continue;
    }
    Config config;
    auto r = applyConfigLayer(config, *layer);
    if (r) {
      ++applied;
      EXPECT_GE(config.http_port, 0);
      EXPECT_LE(config.http_port, 65535);
      EXPECT_FALSE(config.renditions.empty());
    } else {
      ++refused;
      EXPECT_NE(r.error().message.find("fuzz.toml"), std::string::npos) << r.error().message;
    }
  }
  // Both outcomes were reached, so the mutations exercise more than the parser's front door.
  EXPECT_GT(applied, 100);
  EXPECT_GT(refused, 100);
}

}  // namespace
}  // namespace bloomcast
