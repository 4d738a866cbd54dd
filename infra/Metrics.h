#pragma once
// Metrics: counters, gauges and histograms that every part registers, rendered in the
// Prometheus text exposition format (version 0.0.4) for GET /metrics.
//
// Thread: registration and render() take a mutex; updating a metric is a relaxed atomic and is
// safe from any thread (workers update encode metrics directly). Callback gauges are evaluated
// inside render(), i.e. on the thread that serves /metrics (the loop thread).
// Ownership: the registry shares each metric with whoever registered it; remove() drops the
// registry's share (a per-stream series that ends).
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bloomcast {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // `upper_bounds` ascending; +Inf is implicit.
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double v);

  const std::vector<double>& upperBounds() const { return bounds_; }
  // Cumulative counts per bound, then the +Inf count.
  std::vector<uint64_t> cumulativeCounts() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1, not cumulative
  std::atomic<double> sum_{0};
  std::atomic<uint64_t> count_{0};
};

// Bucket bounds in seconds for latencies from 100 µs to 10 s.
std::vector<double> latencyBucketsSeconds();

class MetricsRegistry {
 public:
  // Each returns the series (name, labels), creating it on first use. The same name must keep
  // one type; names must match [a-zA-Z_:][a-zA-Z0-9_:]* (asserted: names are ours, not input).
  std::shared_ptr<Counter> counter(std::string_view name, std::string_view help,
                                   const MetricLabels& labels = {});
  std::shared_ptr<Gauge> gauge(std::string_view name, std::string_view help,
                               const MetricLabels& labels = {});
  std::shared_ptr<Histogram> histogram(std::string_view name, std::string_view help,
                                       std::vector<double> upper_bounds,
                                       const MetricLabels& labels = {});
  // A gauge read at scrape time, e.g. a queue depth owned by the loop thread.
  void gaugeCallback(std::string_view name, std::string_view help, std::function<double()> read,
                     const MetricLabels& labels = {});

  // Forgets one series (no-op when absent).
  void remove(std::string_view name, const MetricLabels& labels);

  // Prometheus text format, families sorted by name.
  std::string render() const;

 private:
  enum class Type { Counter, Gauge, Histogram };
  struct Series {
    std::shared_ptr<Counter> counter;
    std::shared_ptr<Gauge> gauge;
    std::shared_ptr<Histogram> histogram;
    std::function<double()> read;
  };
  struct Family {
    Type type;
    std::string help;
    std::map<std::string, Series> series;  // key: rendered label set "{a=\"b\"}"
  };
  Family& family(std::string_view name, std::string_view help, Type type);

  mutable std::mutex mutex_;
  std::map<std::string, Family, std::less<>> families_;  // guarded by mutex_
};

}  // namespace bloomcast
