// Images in chat requests: data URLs decoded, file URLs only when allowed,
// remote URLs refused (hearth never fetches), each image part replaced by
// llama.cpp's media marker, errors naming the part.
#include "server/image_input.h"

#include <gtest/gtest.h>

#include "runtime/media_prompt.h"
#include "server/api_error.h"

namespace hearth::server {
namespace {

std::string api_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 400);
    return std::string(e.what()) + " [" + e.param + "]";
  }
  return "";
}

TEST(ImageInput, Base64DecodesStandardAndUrlSafe) {
  EXPECT_EQ(decode_base64("aGVsbG8=", "f"), "hello");
  EXPECT_EQ(decode_base64("aGVsbG8", "f"), "hello");
  EXPECT_EQ(decode_base64("aGVs\nbG8=", "f"), "hello");
  EXPECT_EQ(decode_base64("_-8=", "f"), std::string("\xff\xef", 2));
  EXPECT_NE(api_error([] { decode_base64("aGV*bG8=", "f"); }).find("not valid base64"), std::string::npos);
  EXPECT_NE(api_error([] { decode_base64("aG=Vs", "f"); }).find("not valid base64"), std::string::npos);
}

chat::OrderedJson message_with(const std::string& url) {
  return chat::OrderedJson::array(
      {{{"role", "user"},
        {"content", chat::OrderedJson::array({{{"type", "text"}, {"text", "what is this?"}},
                                               {{"type", "image_url"}, {"image_url", {{"url", url}}}}})}}});
}

TEST(ImageInput, TakesDataUrlsAndLeavesMarkers) {
  auto messages = message_with("data:image/png;base64,aGVsbG8=");
  const auto images = take_images(messages, false);
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].bytes, "hello");
  EXPECT_EQ(images[0].field, "messages[0].content[1]");
  EXPECT_EQ(messages[0]["content"][1]["type"], "text");
  EXPECT_EQ(messages[0]["content"][1]["text"], std::string(runtime::kMediaMarker));
}

TEST(ImageInput, RemoteAndFileUrlsAreRefusedByDefault) {
  auto remote = message_with("https://example.com/cat.png");
  const std::string r = api_error([&] { take_images(remote, true); });
  EXPECT_NE(r.find("does not fetch remote images"), std::string::npos) << r;
  EXPECT_NE(r.find("[messages[0].content[1]]"), std::string::npos) << r;
  auto file = message_with("file:///etc/hostname");
  const std::string f = api_error([&] { take_images(file, false); });
  EXPECT_NE(f.find("--allow-file-urls"), std::string::npos) << f;
  auto missing = message_with("file:///no/such/image.png");
  const std::string m = api_error([&] { take_images(missing, true); });
  EXPECT_NE(m.find("/no/such/image.png"), std::string::npos) << m;
  auto plain = message_with("data:image/png,rawbytes");
  EXPECT_NE(api_error([&] { take_images(plain, false); }).find("base64"), std::string::npos);
}

}  // namespace
}  // namespace hearth::server
