// Metrics: the Prometheus text exposition format, as scrapers read it.
#include "infra/Metrics.h"

#include <gtest/gtest.h>

namespace bloomcast {
namespace {

TEST(Metrics, CountersAndGaugesRenderWithHelpTypeAndLabels) {
  MetricsRegistry m;
  m.counter("bloomcast_orders_total", "Orders placed", {{"stream", "s1"}})->inc(3);
  m.gauge("bloomcast_viewers", "Viewers now")->set(12);
  std::string text = m.render();
  EXPECT_NE(text.find("# HELP bloomcast_orders_total Orders placed\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE bloomcast_orders_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("bloomcast_orders_total{stream=\"s1\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE bloomcast_viewers gauge\nbloomcast_viewers 12\n"), std::string::npos);
}

TEST(Metrics, SameNameAndLabelsIsTheSameSeries) {
  MetricsRegistry m;
  m.counter("c_total", "h")->inc();
  m.counter("c_total", "h")->inc();
  m.counter("c_total", "h", {{"k", "v"}})->inc();
  std::string text = m.render();
  EXPECT_NE(text.find("c_total 2\n"), std::string::npos);
  EXPECT_NE(text.find("c_total{k=\"v\"} 1\n"), std::string::npos);
}

TEST(Metrics, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  MetricsRegistry m;
  auto h = m.histogram("lat_seconds", "Latency", {0.1, 1});
  h->observe(0.05);
  h->observe(0.1);  // le is inclusive
  h->observe(0.5);
  h->observe(7);
  std::string text = m.render();
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"0.1\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"1\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"+Inf\"} 4\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_sum 7.65\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_count 4\n"), std::string::npos);
}

TEST(Metrics, LabelValuesAndHelpAreEscaped) {
  MetricsRegistry m;
  m.gauge("g", "line1\nline2 \\ end", {{"title", "a \"quoted\"\nvalue\\"}})->set(1);
  std::string text = m.render();
  EXPECT_NE(text.find("# HELP g line1\\nline2 \\\\ end\n"), std::string::npos) << text;
  EXPECT_NE(text.find("g{title=\"a \\\"quoted\\\"\\nvalue\\\\\"} 1\n"), std::string::npos) << text;
}

TEST(Metrics, CallbackGaugesAreReadAtScrapeTimeAndSeriesCanBeRemoved) {
  MetricsRegistry m;
  int depth = 4;
  m.gaugeCallback("queue_depth", "Depth", [&] { return depth; }, {{"q", "a"}});
  EXPECT_NE(m.render().find("queue_depth{q=\"a\"} 4\n"), std::string::npos);
  depth = 9;
  EXPECT_NE(m.render().find("queue_depth{q=\"a\"} 9\n"), std::string::npos);
  m.remove("queue_depth", {{"q", "a"}});
  EXPECT_EQ(m.render().find("queue_depth"), std::string::npos);
}

}  // namespace
}  // namespace bloomcast
