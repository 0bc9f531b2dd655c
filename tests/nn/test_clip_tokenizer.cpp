// CLIP tokenizer: token ids equal to open_clip's for the strings of tests/data/nn/clip_tokens.json
// (made by tools/reference/make_tokenizer_fixtures.py), gz/plain vocab, decode, bad input.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>

#include "biqa/io/json.hpp"
#include "biqa/nn/clip_tokenizer.hpp"
#include "support/helpers.hpp"

namespace {

std::string vocab_path() {
  if (const char* env = std::getenv("BIQA_CLIP_VOCAB"); env && *env) return env;
  return std::string(BIQA_SOURCE_DIR) + "/data/clip/bpe_simple_vocab_16e6.txt.gz";
}

const biqa::clip::Tokenizer& tokenizer() {
  static const biqa::clip::Tokenizer tok = [] {
    const std::string path = vocab_path();
    if (!std::filesystem::exists(path))
      FAIL("CLIP vocabulary not found at " << path
           << ": run scripts/fetch_clip_vocab (or set BIQA_CLIP_VOCAB to bpe_simple_vocab_16e6.txt[.gz])");
    return biqa::clip::Tokenizer::from_file(path);
  }();
  return tok;
}

}  // namespace

TEST_CASE("clip tokenizer: ids equal open_clip's for every fixture string", "[clip][tokenizer]") {
  const auto& tok = tokenizer();
  CHECK(tok.vocab_size() == 49408);
  CHECK(tok.sot_token() == 49406);
  CHECK(tok.eot_token() == 49407);
  const auto raw = biqa::io::read_file_bytes(biqa::test::data_path("nn/clip_tokens.json"));
  const auto doc = biqa::json::parse(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()));
  const auto& fixtures = doc.as_array();
  REQUIRE(fixtures.size() >= 40);
  std::vector<std::string> texts;
  for (std::size_t i = 0; i < fixtures.size(); ++i) texts.push_back(fixtures[i]["text"].as_string());
  const auto ids = tok.tokenize(texts);
  REQUIRE(ids.shape() == biqa::Shape{std::int64_t(texts.size()), 77});
  for (std::size_t i = 0; i < fixtures.size(); ++i) {
    std::vector<std::int64_t> expected, got;
    for (const auto& v : fixtures[i]["ids"].as_array()) expected.push_back(std::int64_t(v.as_number()));
    for (int k = 0; k < 77; ++k) got.push_back(ids.data()[i * 77 + std::size_t(k)]);
    INFO("text: " << texts[i]);
    CHECK(got == expected);
    std::vector<int> body;
    for (auto v : expected)
      if (v != 0 && v != tok.sot_token() && v != tok.eot_token()) body.push_back(int(v));
    CHECK(tok.decode(body) == fixtures[i]["decoded"].as_string());
  }
}

TEST_CASE("clip tokenizer: truncation keeps the end token last", "[clip][tokenizer]") {
  const auto& tok = tokenizer();
  std::string longtext;
  for (int i = 0; i < 200; ++i) longtext += "cat ";
  const auto t = tok.tokenize({longtext, "cat"}, 10);
  REQUIRE(t.shape() == biqa::Shape{2, 10});
  CHECK(t.data()[0] == 49406);
  CHECK(t.data()[9] == 49407);
  CHECK(t.data()[8] == tok.encode("cat")[0]);
  CHECK(t.data()[10 + 2] == 49407);
  CHECK(t.data()[10 + 3] == 0);
  CHECK(tok.tokenize({"cat"}, 1).data()[0] == 49407);
  CHECK_THROWS_AS(tok.tokenize({"cat"}, 0), biqa::Error);
}

TEST_CASE("clip tokenizer: gzip and plain text vocabularies agree", "[clip][tokenizer]") {
  const auto& tok = tokenizer();
  const std::string gz = vocab_path();
  const auto bytes = biqa::io::read_file_bytes(gz);
  biqa::test::TempDir dir;
  const std::string plain_path = dir.file("vocab.txt");
  const std::string plain = (bytes.size() > 1 && bytes[0] == 0x1F && bytes[1] == 0x8B)
                                ? biqa::clip::detail::gunzip(bytes, gz)
                                : std::string(bytes.begin(), bytes.end());
  biqa::io::write_file_bytes(plain_path, plain.data(), plain.size());
  const auto tok2 = biqa::clip::Tokenizer::from_file(plain_path);
  for (const char* s : {"a photo of a cat", "Hello, World!!! 3.14 don't", "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac"})
    CHECK(tok.encode(s) == tok2.encode(s));
  for (int id : {0, 255, 256, 511, 512, 30000, 49405, 49406, 49407})
    CHECK(tok.decode({id}) == tok2.decode({id}));
}

TEST_CASE("clip tokenizer: decode(encode(s)) round trip for clean ASCII", "[clip][tokenizer]") {
  const auto& tok = tokenizer();
  for (const char* s : {"a photo of a cat", "the image is blurry and noisy", "jpeg compressed photo with low light",
                        "supercalifragilisticexpialidocious", "x"})
    CHECK(tok.decode(tok.encode(s)) == std::string(s) + " ");
  // Punctuation and digits come back as separate words.
  CHECK(tok.decode(tok.encode("Hello, World!")) == "hello , world ! ");
  CHECK(tok.decode(tok.encode("3.14")) == "3 . 1 4 ");
  CHECK_THROWS_AS(tok.decode({49408}), biqa::Error);
  CHECK_THROWS_AS(tok.decode({-1}), biqa::Error);
}

TEST_CASE("clip tokenizer: invalid UTF-8 is read as U+FFFD", "[clip][tokenizer]") {
  const auto& tok = tokenizer();
  // Each ill-formed subpart becomes one U+FFFD, as bytes.decode("utf-8", errors="replace") does.
  CHECK(biqa::clip::Tokenizer::clean("a\xff" "b") == "a\xef\xbf\xbd" "b");
  CHECK(biqa::clip::Tokenizer::clean("\xe2\x82") == "\xef\xbf\xbd");
  CHECK(biqa::clip::Tokenizer::clean("\xed\xa0\x80") == "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  CHECK(biqa::clip::Tokenizer::clean("\xf0\x9f\x98") == "\xef\xbf\xbd");
  CHECK(tok.encode("cat\xff") == tok.encode("cat\xef\xbf\xbd"));
  CHECK_NOTHROW(tok.encode(std::string("\x00\xc0\xaf\xf8\x88\x80\x80\x80\xfe", 9)));
}

TEST_CASE("clip tokenizer: bad vocabulary files give biqa::Error naming the file", "[clip][tokenizer]") {
  biqa::test::TempDir dir;
  auto expect_error = [](const std::string& path, const std::string& what) {
    try {
      (void)biqa::clip::Tokenizer::from_file(path);
      FAIL("no error for " << path);
    } catch (const biqa::Error& e) {
      const std::string msg = e.what();
      INFO(msg);
      CHECK(msg.find(path) != std::string::npos);
      CHECK(msg.find(what) != std::string::npos);
    }
  };
  expect_error(dir.file("missing.txt.gz"), "cannot open");

  const auto bytes = biqa::io::read_file_bytes(vocab_path());
  REQUIRE(bytes.size() > 1000);
  const std::string truncated = dir.file("truncated.txt.gz");
  biqa::io::write_file_bytes(truncated, bytes.data(), bytes.size() / 2);
  expect_error(truncated, "gzip");
  std::vector<unsigned char> flipped = bytes;
  flipped[flipped.size() / 2] ^= 0x55;
  const std::string corrupt_gz = dir.file("corrupt.txt.gz");
  biqa::io::write_file_bytes(corrupt_gz, flipped.data(), flipped.size());
  expect_error(corrupt_gz, "gzip");

  const std::string short_text = dir.file("short.txt");
  const std::string content = "#version: 0.2\ni n\nt h\n";
  biqa::io::write_file_bytes(short_text, content.data(), content.size());
  expect_error(short_text, "expected 48894 merges");
  const std::string bad_line = dir.file("bad_line.txt");
  const std::string content2 = "#version: 0.2\ni n\nthree fields here\n";
  biqa::io::write_file_bytes(bad_line, content2.data(), content2.size());
  expect_error(bad_line, ":3: expected a merge");
  const std::string not_utf8 = dir.file("not_utf8.txt");
  std::string content3 = "#version: 0.2\ni \xff\n";
  for (int i = 0; i < 48893; ++i) content3 += "a b\n";
  biqa::io::write_file_bytes(not_utf8, content3.data(), content3.size());
  expect_error(not_utf8, "UTF-8");
}
