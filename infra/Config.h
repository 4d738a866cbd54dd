#pragma once
// Config: every setting of one bloomcast process, resolved from four layers in this order, each
// overriding the one before: built-in defaults, a TOML file (--config FILE or
// BLOOMCAST_CONFIG), BLOOMCAST_* environment variables, command-line flags.
//
// Every setting has one name, spelled `http_port` in TOML, `BLOOMCAST_HTTP_PORT` in the
// environment and `--http-port` on the command line. Thread: plain value, copied freely.
#include <CLI/CLI.hpp>

#include <cstdint>
#include <expected>
#include <map>
#include <string>
#include <vector>

#include "infra/Error.h"
#include "infra/TrustedProxies.h"

namespace bloomcast {

struct Config {
  std::string bind_address = "0.0.0.0";
  int http_port = 8080;
  int rtmp_port = 1935;
  std::string data_dir = "data";
  std::string redis;         // "" = start an embedded redis-server in data_dir
  // The embedded redis-server's AOF fsync (docs/reliability.md, "Durability choice"): "always",
  // every acknowledged order is on the disk; "no", the OS writes it back (orders survive kills
  // of redis-server and bloomcast, not a power loss of the last ~30 s), for a disk too slow for
  // a flash sale under "always". "everysec" is refused: under it a kill -9 of redis-server can
  // lose acknowledged orders. Not used with an external redis.
  std::string redis_appendfsync = "always";
  std::string admin_token;   // "" = generate one and keep it in data_dir/admin-token
  std::string log_level = "info";
  std::vector<std::string> renditions = {"source", "720p", "480p", "360p"};
  bool rate_limits = true;
  std::string public_url;    // base URL printed and returned to clients; "" = http://HOST:PORT
  int64_t max_body_bytes = 16 * 1024;
  int64_t max_connections_per_ip = 1000;  // HTTP + WebSocket; 0 = no cap; off with rate_limits off
  int shutdown_timeout_ms = 4000;
  std::string web_dir;       // built pages; "" = next to the executable (build/web)
  int64_t order_expiry_s = 900;  // unpaid orders expire (and return their stock) after this
  int hls_segment_ms = 2000;           // HLS segment target duration
  int hls_reconnect_window_ms = 30000; // a publisher back within this continues the same playlists
  int fanout_threads = 2;  // threads writing one chat room's tick, the loop thread included (1..16)
  int fanout_slice = 256;  // recipients written per slice of a tick before the loop polls (16..65536)
  // A live publisher's stream key is checked again this often: a rotated key or an ended stream
  // cuts it off within it. 0 = only when the publish starts.
  int64_t publisher_recheck_ms = 2000;
  // Reverse proxies whose X-Forwarded-For names the client: addresses and CIDR blocks, as a
  // list ("10.0.0.0/8,::1"). Empty: none, the header is ignored.
  TrustedProxies trusted_proxies = {};
};

// One layer: setting name (TOML spelling) -> value as text, plus where it came from
// ("config.toml", "environment", "flag") for error messages.
struct ConfigLayer {
  std::string source;
  std::map<std::string, std::string> values;
};

// The names of all settings, in TOML spelling.
const std::vector<std::string>& configKeys();

// Applies one layer onto `config`. Unknown names and values that do not parse are errors
// naming the layer and the setting; `config` is then left partly updated.
std::expected<void, Error> applyConfigLayer(Config& config, const ConfigLayer& layer);

// Reads a TOML document into a layer. Arrays become comma-separated text.
std::expected<ConfigLayer, Error> configLayerFromToml(std::string_view toml_text,
                                                      std::string_view source);

// Picks the BLOOMCAST_* variables out of an environment block (as `environ`).
ConfigLayer configLayerFromEnvironment(char** envp);

// Registers one flag per setting on a CLI11 (sub)command. After parsing, flagLayer() yields
// only the flags that were given.
class ConfigFlags {
 public:
  void addTo(CLI::App& app);
  ConfigLayer flagLayer() const;
  const std::string& configFile() const { return config_file_; }

 private:
  CLI::App* app_ = nullptr;
  std::map<std::string, std::string> raw_;
  std::string config_file_;
};

// The whole precedence chain: defaults, TOML (file named by flag or environment), environment,
// flags.
std::expected<Config, Error> resolveConfig(const ConfigFlags& flags, char** envp);

}  // namespace bloomcast
