// libFuzzer target: arbitrary bytes as text through the CLIP tokenizer (clean-up, pre-tokenizer, BPE,
// tokenize with truncation, decode). The vocabulary comes from BIQA_CLIP_VOCAB or data/clip/ in the
// source tree (scripts/fetch_clip_vocab).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "biqa/nn/clip_tokenizer.hpp"

#ifndef BIQA_SOURCE_DIR
#define BIQA_SOURCE_DIR "."
#endif

static std::unique_ptr<biqa::clip::Tokenizer> g_tokenizer;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* env = std::getenv("BIQA_CLIP_VOCAB");
  const std::string path = env && *env ? env : BIQA_SOURCE_DIR "/data/clip/bpe_simple_vocab_16e6.txt.gz";
  try {
    g_tokenizer = std::make_unique<biqa::clip::Tokenizer>(biqa::clip::Tokenizer::from_file(path));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_clip_tokenizer: %s (run scripts/fetch_clip_vocab or set BIQA_CLIP_VOCAB)\n", e.what());
    std::abort();
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto ids = g_tokenizer->encode(text);
  for (int id : ids)
    if (id < 0 || id >= g_tokenizer->vocab_size()) std::abort();
  (void)g_tokenizer->decode(ids);
  const auto t = g_tokenizer->tokenize({std::string(text)}, 16);
  if (t.data()[0] != g_tokenizer->sot_token()) std::abort();
  return 0;
}
