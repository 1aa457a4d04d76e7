// Every reference case in reference/ (llama.cpp's logits and greedy tokens)
// against hearth on the CPU (the CPU DeviceBackend over the host CPU
// backend, 2 threads), under the tolerance rule (model/reference_runner.h).
#include "backend/backend.h"
#include "model/reference_runner.h"

namespace {

using namespace hearth::reference_test;

class ReferenceCase : public ::testing::TestWithParam<fs::path> {};

TEST_P(ReferenceCase, WithinToleranceOfLlamaCpp) {
  auto backend = hearth::backend::make_cpu_backend(2);
  check_reference_case(GetParam(), [&](const hearth::model::Model& model, const hearth::runtime::SessionConfig& config) {
    return std::make_unique<hearth::runtime::Session>(model, *backend, config);
  });
}

INSTANTIATE_TEST_SUITE_P(Llamacpp, ReferenceCase, ::testing::ValuesIn(reference_cases()),
                         [](const auto& info) { return case_name(info.param); });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ReferenceCase);

TEST(ReferenceData, IsPresent) { EXPECT_GE(reference_cases().size(), 4u); }

}  // namespace
