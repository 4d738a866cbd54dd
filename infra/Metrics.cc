#include "infra/Metrics.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fmt/format.h>

namespace bloomcast {
namespace {

bool validMetricName(std::string_view name) {
  if (name.empty()) return false;
  auto head = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':'; };
  if (!head(name[0])) return false;
  return std::all_of(name.begin() + 1, name.end(), [&](char c) {
    return head(c) || std::isdigit(static_cast<unsigned char>(c));
  });
}

// Label values escape backslash, double quote and newline; HELP text backslash and newline.
std::string escape(std::string_view s, bool quote) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '"' && quote) out += "\\\"";
    else out += c;
  }
  return out;
}

std::string labelKey(const MetricLabels& labels, std::string_view extra_name = {},
                     std::string_view extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!validMetricName(k)) {
      spdlog::critical("metrics: bad label name '{}'", k);
      std::abort();
    }
    if (!first) out += ',';
    first = false;
    out += k + "=\"" + escape(v, true) + "\"";
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += std::string(extra_name) + "=\"" + std::string(extra_value) + "\"";
  }
  out += '}';
  return out;
}

// Adds one label to an already rendered label set (used for histogram "le").
std::string withLabel(const std::string& key, std::string_view name, std::string_view value) {
  std::string pair = std::string(name) + "=\"" + std::string(value) + "\"";
  if (key.empty()) return "{" + pair + "}";
  return key.substr(0, key.size() - 1) + "," + pair + "}";
}

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)),
      buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  std::sort(bounds_.begin(), bounds_.end());
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i] = 0;
}

void Histogram::observe(double v) {
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
  buckets_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::cumulativeCounts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    out[i] = running;
  }
  return out;
}

std::vector<double> latencyBucketsSeconds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,     10};
}

MetricsRegistry::Family& MetricsRegistry::family(std::string_view name, std::string_view help,
                                                 Type type) {
  if (!validMetricName(name)) {
    spdlog::critical("metrics: bad metric name '{}'", name);
    std::abort();
  }
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{type, std::string(help), {}}).first;
  } else if (it->second.type != type) {
    spdlog::critical("metrics: '{}' registered with two types", name);
    std::abort();
  }
  return it->second;
}

std::shared_ptr<Counter> MetricsRegistry::counter(std::string_view name, std::string_view help,
                                                  const MetricLabels& labels) {
  std::lock_guard lock(mutex_);
  auto& s = family(name, help, Type::Counter).series[labelKey(labels)];
  if (!s.counter) s.counter = std::make_shared<Counter>();
  return s.counter;
}

std::shared_ptr<Gauge> MetricsRegistry::gauge(std::string_view name, std::string_view help,
                                              const MetricLabels& labels) {
  std::lock_guard lock(mutex_);
  auto& s = family(name, help, Type::Gauge).series[labelKey(labels)];
  if (!s.gauge) s.gauge = std::make_shared<Gauge>();
  return s.gauge;
}

std::shared_ptr<Histogram> MetricsRegistry::histogram(std::string_view name, std::string_view help,
                                                      std::vector<double> upper_bounds,
                                                      const MetricLabels& labels) {
  std::lock_guard lock(mutex_);
  auto& s = family(name, help, Type::Histogram).series[labelKey(labels)];
  if (!s.histogram) s.histogram = std::make_shared<Histogram>(std::move(upper_bounds));
  return s.histogram;
}

void MetricsRegistry::gaugeCallback(std::string_view name, std::string_view help,
                                    std::function<double()> read, const MetricLabels& labels) {
  std::lock_guard lock(mutex_);
  family(name, help, Type::Gauge).series[labelKey(labels)] = Series{{}, {}, {}, std::move(read)};
}

void MetricsRegistry::remove(std::string_view name, const MetricLabels& labels) {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it == families_.end()) return;
  it->second.series.erase(labelKey(labels));
}

std::string MetricsRegistry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, fam] : families_) {
    if (fam.series.empty()) continue;
    const char* type = fam.type == Type::Counter ? "counter"
                       : fam.type == Type::Gauge ? "gauge"
                                                 : "histogram";
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape(fam.help, false), name, type);
    for (const auto& [key, s] : fam.series) {
      if (s.counter) {
        out += fmt::format("{}{} {}\n", name, key, s.counter->value());
      } else if (s.gauge) {
        out += fmt::format("{}{} {}\n", name, key, number(s.gauge->value()));
      } else if (s.read) {
        out += fmt::format("{}{} {}\n", name, key, number(s.read()));
      } else if (s.histogram) {
        const auto& bounds = s.histogram->upperBounds();
        auto counts = s.histogram->cumulativeCounts();
        for (std::size_t i = 0; i < bounds.size(); ++i) {
          out += fmt::format("{}_bucket{} {}\n", name, withLabel(key, "le", number(bounds[i])),
                             counts[i]);
        }
        out += fmt::format("{}_bucket{} {}\n", name, withLabel(key, "le", "+Inf"), counts.back());
        out += fmt::format("{}_sum{} {}\n", name, key, number(s.histogram->sum()));
        out += fmt::format("{}_count{} {}\n", name, key, s.histogram->count());
      }
    }
  }
  return out;
}

}  // namespace bloomcast
