// Fuzz target: a TOML configuration file through configLayerFromToml and applyConfigLayer onto
// the defaults (infra/Config.h). Beyond "no crash, no exception escapes": an error has the code
// bad_config and a message naming the file; a layer that applies names only known settings and
// leaves every setting within the range Config.cc documents for it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "infra/Config.h"

using namespace bloomcast;

namespace {

constexpr std::string_view kSource = "fuzz.toml";

void check(bool ok) {
  if (!ok) std::abort();
}

void checkError(const Error& e) {
  check(e.code == "bad_config");
  check(e.message.find(kSource) != std::string::npos);
}

bool within(int64_t v, int64_t min, int64_t max) { return v >= min && v <= max; }

void checkRanges(const Config& c) {
  check(within(c.http_port, 0, 65535));  // 0: any free port (tests)
  check(within(c.rtmp_port, 0, 65535));
  static constexpr std::string_view kLevels[] = {"trace", "debug", "info", "warn",
                                                 "error", "critical", "off"};
  check(std::find(std::begin(kLevels), std::end(kLevels), c.log_level) != std::end(kLevels));
  check(!c.renditions.empty());
  for (const auto& r : c.renditions) {
    check(!r.empty() && r.find(',') == std::string::npos);
    check(r.front() != ' ' && r.front() != '\t' && r.back() != ' ' && r.back() != '\t');
  }
  check(within(c.max_body_bytes, 1024, 64 << 20));
  check(within(c.max_connections_per_ip, 0, 1000000));
  check(within(c.shutdown_timeout_ms, 0, 60000));
  check(within(c.order_expiry_s, 1, 7 * 24 * 3600));
  check(within(c.hls_segment_ms, 500, 10000));
  check(within(c.hls_reconnect_window_ms, 0, 3600 * 1000));
  for (const IpNetwork& n : c.trusted_proxies.networks()) {
    check(within(n.prefix_bits, 0, 128));
    check(n.contains(n.base));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto layer = configLayerFromToml(text, kSource);
  if (!layer) {
    checkError(layer.error());
    return 0;
  }
  check(layer->source == kSource);
  Config config;
  auto applied = applyConfigLayer(config, *layer);
  if (!applied) {
    checkError(applied.error());
    return 0;
  }
  const auto& known = configKeys();
  for (const auto& [key, value] : layer->values)
    check(std::find(known.begin(), known.end(), key) != known.end());
  checkRanges(config);
  return 0;
}
