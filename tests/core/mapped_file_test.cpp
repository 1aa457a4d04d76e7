// MappedFile::drop_pages: dropping pages of a weight the backend has copied
// must never change what the mapping reads (the pages come back from the file).
// MappedFile::read: the bytes at a mapped address, read from the file
// without mapping them (the token embedding's rows), and an address outside
// the mapping refused.
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

TEST(MappedFile, ReadGivesTheBytesAtAMappedAddressWithoutTouchingTheMapping) {
  const auto path = std::filesystem::temp_directory_path() / "hearth_mapped_file_read_test.bin";
  std::vector<uint8_t> content(3 * 4096 + 77);
  std::mt19937 rng(11);
  for (auto& b : content) b = uint8_t(rng());
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(content.data()), std::streamsize(content.size()));

  hearth::MappedFile file(path.string());
  const uint8_t* base = file.bytes().data();
  std::vector<uint8_t> row(5000, 0);
  file.read(base + 4000, row.size(), row.data());  // across a page boundary
  EXPECT_TRUE(std::equal(row.begin(), row.end(), content.begin() + 4000));
  file.read(base + content.size() - 10, 10, row.data());  // the last bytes
  EXPECT_TRUE(std::equal(row.begin(), row.begin() + 10, content.end() - 10));
  EXPECT_TRUE(file.holds(base, content.size()));
  EXPECT_FALSE(file.holds(base + 1, content.size()));
  EXPECT_FALSE(file.holds(content.data(), 1));
  EXPECT_THROW(file.read(base + content.size() - 4, 8, row.data()), std::exception);
  EXPECT_THROW(file.read(content.data(), 4, row.data()), std::exception);
  // A moved-to file keeps reading (its descriptor moved with it).
  hearth::MappedFile moved(std::move(file));
  moved.read(base, 16, row.data());
  EXPECT_TRUE(std::equal(row.begin(), row.begin() + 16, content.begin()));
  std::filesystem::remove(path);
}

}  // namespace
