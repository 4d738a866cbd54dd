#include "infra/Config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

namespace bloomcast {
namespace {

std::expected<int64_t, Error> parseInt(std::string_view text, int64_t min, int64_t max) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size())
    return std::unexpected(Error{"bad_config", "'" + std::string(text) + "' is not an integer"});
  if (v < min || v > max)
    return std::unexpected(Error{"bad_config", std::to_string(v) + " is outside " +
                                                   std::to_string(min) + ".." + std::to_string(max)});
  return v;
}

std::expected<bool, Error> parseSwitch(std::string_view text) {
  if (text == "on" || text == "true" || text == "1" || text == "yes") return true;
  if (text == "off" || text == "false" || text == "0" || text == "no") return false;
  return std::unexpected(Error{"bad_config", "'" + std::string(text) + "' is not on/off"});
}

std::vector<std::string> splitList(std::string_view text) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in{std::string(text)};
  while (std::getline(in, item, ',')) {
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::expected<void, Error> applyOne(Config& c, const std::string& key, const std::string& value) {
  auto setInt = [&](auto& field, int64_t min, int64_t max) -> std::expected<void, Error> {
    auto v = parseInt(value, min, max);
    if (!v) return std::unexpected(v.error());
    field = static_cast<std::remove_reference_t<decltype(field)>>(*v);
    return {};
  };
  if (key == "bind") c.bind_address = value;
  else if (key == "http_port") return setInt(c.http_port, 0, 65535);
  else if (key == "rtmp_port") return setInt(c.rtmp_port, 0, 65535);
  else if (key == "data_dir") c.data_dir = value;
  else if (key == "redis") c.redis = value;
  else if (key == "redis_appendfsync") {
    if (value == "everysec")
      return std::unexpected(Error{"bad_config", "'everysec' can lose acknowledged orders when redis-server is killed "
                                                 "(docs/reliability.md); use 'always' or 'no'"});
    if (value != "always" && value != "no")
      return std::unexpected(Error{"bad_config", "'" + value + "' is not 'always' or 'no'"});
    c.redis_appendfsync = value;
  }
  else if (key == "admin_token") c.admin_token = value;
  else if (key == "log_level") {
    static const std::vector<std::string> levels = {"trace", "debug", "info", "warn",
                                                    "error", "critical", "off"};
    if (std::find(levels.begin(), levels.end(), value) == levels.end())
      return std::unexpected(Error{"bad_config", "unknown level '" + value + "'"});
    c.log_level = value;
  } else if (key == "renditions") {
    auto list = splitList(value);
    if (list.empty()) return std::unexpected(Error{"bad_config", "needs at least one rendition"});
    c.renditions = list;
  } else if (key == "rate_limits") {
    auto v = parseSwitch(value);
    if (!v) return std::unexpected(v.error());
    c.rate_limits = *v;
  } else if (key == "public_url") c.public_url = value;
  else if (key == "max_body_bytes") return setInt(c.max_body_bytes, 1024, 64 << 20);
  else if (key == "max_connections_per_ip") return setInt(c.max_connections_per_ip, 0, 1000000);
  else if (key == "shutdown_timeout_ms") return setInt(c.shutdown_timeout_ms, 0, 60000);
  else if (key == "web_dir") c.web_dir = value;
  else if (key == "order_expiry_s") return setInt(c.order_expiry_s, 1, 7 * 24 * 3600);
  else if (key == "hls_segment_ms") return setInt(c.hls_segment_ms, 500, 10000);
  else if (key == "hls_reconnect_window_ms") return setInt(c.hls_reconnect_window_ms, 0, 3600 * 1000);
  else if (key == "fanout_threads") return setInt(c.fanout_threads, 1, 16);
  else if (key == "fanout_slice") return setInt(c.fanout_slice, 16, 65536);
  else if (key == "publisher_recheck_ms") return setInt(c.publisher_recheck_ms, 0, 3600 * 1000);
  else if (key == "trusted_proxies") {
    // An empty list is allowed: a later layer may take back what an earlier one trusted.
    auto set = TrustedProxies::parse(splitList(value));
    if (!set) return std::unexpected(Error{"bad_config", set.error().message});
    c.trusted_proxies = std::move(*set);
  }
  else return std::unexpected(Error{"bad_config", "unknown setting"});
  return {};
}

std::string flagName(const std::string& key) {
  std::string out = "--" + key;
  std::replace(out.begin(), out.end(), '_', '-');
  return out;
}

}  // namespace

const std::vector<std::string>& configKeys() {
  static const std::vector<std::string> keys = {
      "bind",        "http_port",   "rtmp_port",      "data_dir",           "redis",
      "admin_token", "log_level",   "renditions",     "rate_limits",        "public_url",
      "max_body_bytes", "shutdown_timeout_ms", "web_dir", "order_expiry_s",
      "hls_segment_ms", "hls_reconnect_window_ms", "max_connections_per_ip", "fanout_threads",
      "fanout_slice", "publisher_recheck_ms", "trusted_proxies", "redis_appendfsync"};
  return keys;
}

std::expected<void, Error> applyConfigLayer(Config& config, const ConfigLayer& layer) {
  for (const auto& [key, value] : layer.values) {
    auto r = applyOne(config, key, value);
    if (!r) return std::unexpected(r.error().withContext(layer.source + ": " + key));
  }
  return {};
}

std::expected<ConfigLayer, Error> configLayerFromToml(std::string_view toml_text,
                                                      std::string_view source) {
  ConfigLayer layer{std::string(source), {}};
  toml::table table;
  try {
    table = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    return std::unexpected(Error{"bad_config", std::string(source) + ":" + std::to_string(at.line) +
                                                   ":" + std::to_string(at.column) + ": " +
                                                   std::string(e.description())});
  }
  for (const auto& [k, node] : table) {
    std::string key(k.str());
    std::string text;
    if (auto s = node.value<std::string>(); s && node.is_string()) text = *s;
    else if (node.is_integer()) text = std::to_string(*node.value<int64_t>());
    else if (node.is_boolean()) text = *node.value<bool>() ? "on" : "off";
    else if (const auto* arr = node.as_array()) {
      for (const auto& item : *arr) {
        auto s = item.value<std::string>();
        if (!s || !item.is_string())
          return std::unexpected(Error{"bad_config", std::string(source) + ": " + key +
                                                         ": array items must be strings"});
        if (!text.empty()) text += ',';
        text += *s;
      }
    } else {
      return std::unexpected(
          Error{"bad_config", std::string(source) + ": " + key + ": unsupported value type"});
    }
    layer.values[key] = text;
  }
  return layer;
}

ConfigLayer configLayerFromEnvironment(char** envp) {
  ConfigLayer layer{"environment", {}};
  for (const auto& key : configKeys()) {
    std::string var = "BLOOMCAST_" + key;
    std::transform(var.begin(), var.end(), var.begin(), ::toupper);
    for (char** e = envp; e && *e; ++e) {
      std::string_view entry(*e);
      if (entry.size() > var.size() && entry.starts_with(var) && entry[var.size()] == '=')
        layer.values[key] = std::string(entry.substr(var.size() + 1));
    }
  }
  return layer;
}

void ConfigFlags::addTo(CLI::App& app) {
  app_ = &app;
  app.add_option("--config", config_file_, "TOML configuration file");
  for (const auto& key : configKeys()) {
    CLI::Option* option = app.add_option(flagName(key), raw_[key]);
    // A list may also be given one flag at a time: --trusted-proxies A --trusted-proxies B.
    if (key == "trusted_proxies") option->join(',');
  }
}

ConfigLayer ConfigFlags::flagLayer() const {
  ConfigLayer layer{"command line", {}};
  if (!app_) return layer;
  for (const auto& key : configKeys()) {
    const CLI::Option* opt = app_->get_option(flagName(key));
    if (opt->count() > 0) layer.values[key] = raw_.at(key);
  }
  return layer;
}

std::expected<Config, Error> resolveConfig(const ConfigFlags& flags, char** envp) {
  Config config;
  std::string file = flags.configFile();
  if (file.empty()) {
    for (char** e = envp; e && *e; ++e) {
      std::string_view entry(*e);
      if (entry.starts_with("BLOOMCAST_CONFIG=")) file = entry.substr(17);
    }
  }
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) return std::unexpected(Error{"bad_config", "cannot read config file " + file});
    std::stringstream text;
    text << in.rdbuf();
    auto layer = configLayerFromToml(text.str(), file);
    if (!layer) return std::unexpected(layer.error());
    if (auto r = applyConfigLayer(config, *layer); !r) return std::unexpected(r.error());
  }
  if (auto r = applyConfigLayer(config, configLayerFromEnvironment(envp)); !r)
    return std::unexpected(r.error());
  if (auto r = applyConfigLayer(config, flags.flagLayer()); !r) return std::unexpected(r.error());
  return config;
}

}  // namespace bloomcast
