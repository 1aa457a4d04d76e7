// MappedFile::drop_pages: dropping pages of a weight the backend has copied
// must never change what the mapping reads (the pages come back from the file).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "core/mapped_file.h"

namespace {

TEST(MappedFile, DroppedPagesReadBackFromTheFile) {
  const auto path = std::filesystem::temp_directory_path() / "hearth_mapped_file_test.bin";
  std::vector<uint8_t> content(5 * 4096 + 123);
  std::mt19937 rng(7);
  for (auto& b : content) b = uint8_t(rng());
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(content.data()), std::streamsize(content.size()));

  const hearth::MappedFile file(path.string());
  const auto bytes = file.bytes();
  ASSERT_EQ(bytes.size(), content.size());
  uint64_t before = 0;
  for (uint8_t b : bytes) before += b;  // touch every page
  file.drop_pages(bytes.data() + 100, 4 * 4096);         // an unaligned range inside
  file.drop_pages(bytes.data(), bytes.size());           // all of it
  file.drop_pages(content.data(), content.size());       // not this mapping: ignored
  EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(), content.begin()));
  uint64_t after = 0;
  for (uint8_t b : bytes) after += b;
  EXPECT_EQ(before, after);
  std::filesystem::remove(path);
}

}  // namespace
