// /metrics text, checked against Prometheus' exposition format rules
// (https://prometheus.io/docs/instrumenting/exposition_formats/).
#include "server/metrics.h"

#include <regex>
#include <sstream>

#include <gtest/gtest.h>

namespace hearth::server {
namespace {

TEST(Metrics, EveryFamilyHasHelpAndTypeOnceAndEverySampleIsWellFormed) {
  ModelMetrics a{"qwen", {}, 4, 1 << 20};
  a.stats.requests_finished = 3;
  a.stats.requests_cancelled = 1;
  a.stats.tokens_generated = 42;
  a.stats.kv_blocks_total = 100;
  a.stats.kv_blocks_used = 25;
  ModelMetrics b{"we\"ird\\name", {}, 1, 0};
  const std::string text = prometheus_text({a, b});
  std::istringstream lines(text);
  std::string line;
  std::map<std::string, int> help, type;
  std::map<std::string, double> samples;
  const std::regex sample(R"re(^([a-z_]+)\{model="((?:[^"\\]|\\.)*)"(,outcome="[a-z]+")?\} (-?[0-9.e+]+)$)re");
  std::string current;
  while (std::getline(lines, line)) {
    std::smatch m;
    if (line.rfind("# HELP ", 0) == 0) {
      current = line.substr(7, line.find(' ', 7) - 7);
      ++help[current];
    } else if (line.rfind("# TYPE ", 0) == 0) {
      ++type[line.substr(7, line.find(' ', 7) - 7)];
      EXPECT_TRUE(line.ends_with(" counter") || line.ends_with(" gauge")) << line;
    } else {
      ASSERT_TRUE(std::regex_match(line, m, sample)) << line;
      EXPECT_EQ(m[1].str(), current) << "samples follow their family's HELP/TYPE";
      if (m[1].str().ends_with("_total")) {
        EXPECT_NE(text.find("# TYPE " + m[1].str() + " counter"), std::string::npos);
      }
      samples[m[1].str() + "{" + m[2].str() + m[3].str() + "}"] = std::stod(m[4].str());
    }
  }
  for (const auto& [name, n] : help) EXPECT_EQ(n, 1) << name;
  for (const auto& [name, n] : type) EXPECT_EQ(n, 1) << name;
  EXPECT_EQ(samples["hearth_requests_total{qwen,outcome=\"finished\"}"], 3);
  EXPECT_EQ(samples["hearth_requests_total{qwen,outcome=\"cancelled\"}"], 1);
  EXPECT_EQ(samples["hearth_generated_tokens_total{qwen}"], 42);
  EXPECT_EQ(samples["hearth_slots{qwen}"], 4);
  EXPECT_EQ(samples["hearth_kv_cache_usage_ratio{qwen}"], 0.25);
  EXPECT_EQ(samples["hearth_kv_cache_bytes{qwen}"], 1 << 20);
  EXPECT_EQ(samples["hearth_slots{we\\\"ird\\\\name}"], 1) << "label values escape quotes and backslashes";
}

}  // namespace
}  // namespace hearth::server
