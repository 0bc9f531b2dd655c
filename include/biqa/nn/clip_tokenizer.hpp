#pragma once
/// @file
/// The CLIP byte-level BPE tokenizer, giving the same token ids as open_clip's SimpleTokenizer
/// (clean "lower": HTML-unescape twice, collapse whitespace, strip, str.lower; then the regex
/// pre-tokenizer and BPE with the 48,894 first merges of bpe_simple_vocab_16e6.txt[.gz]).
/// Deviations from open_clip (ftfy, named HTML entities, invalid UTF-8) are listed in
/// docs/clip_tokenizer.md.

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <stb_image.h>

#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/mapped_file.hpp"
#include "biqa/nn/detail/unicode_tables.hpp"

namespace biqa::clip {

namespace detail {

template <std::size_t N>
bool in_table(const Range (&table)[N], char32_t c) {
  const auto* it = std::upper_bound(std::begin(table), std::end(table), std::uint32_t(c),
                                    [](std::uint32_t v, const Range& r) { return v < r.first; });
  return it != std::begin(table) && c <= (it - 1)->last;
}

/// UTF-8 to code points. Ill-formed sequences become U+FFFD, one per maximal ill-formed subpart,
/// which is what Python's bytes.decode("utf-8", errors="replace") does.
inline std::u32string utf8_decode(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned b = p[i];
    if (b < 0x80) { out.push_back(b); ++i; continue; }
    int len = 0;
    unsigned lo = 0x80, hi = 0xBF;
    char32_t c = 0;
    if (b >= 0xC2 && b <= 0xDF) { len = 2; c = b & 0x1F; }
    else if (b >= 0xE0 && b <= 0xEF) {
      len = 3; c = b & 0x0F;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4; c = b & 0x07;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    }
    if (len == 0) { out.push_back(0xFFFD); ++i; continue; }
    std::size_t j = i + 1;
    bool ok = true;
    for (int k = 1; k < len; ++k, ++j) {
      const unsigned lo_k = k == 1 ? lo : 0x80, hi_k = k == 1 ? hi : 0xBF;
      if (j >= n || p[j] < lo_k || p[j] > hi_k) { ok = false; break; }
      c = (c << 6) | (p[j] & 0x3F);
    }
    out.push_back(ok ? c : char32_t(0xFFFD));
    i = j;
  }
  return out;
}

inline void utf8_append(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(char(c));
  } else if (c < 0x800) {
    out.push_back(char(0xC0 | (c >> 6)));
    out.push_back(char(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(char(0xE0 | (c >> 12)));
    out.push_back(char(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(char(0x80 | (c & 0x3F)));
  } else {
    out.push_back(char(0xF0 | (c >> 18)));
    out.push_back(char(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(char(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(char(0x80 | (c & 0x3F)));
  }
}

inline std::string utf8_encode(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) utf8_append(out, c);
  return out;
}

inline std::uint32_t crc32(const unsigned char* data, std::size_t n) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) c = table[(c ^ data[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

/// A single-member gzip file (RFC 1952) to its content; the deflate stream is inflated by stb.
inline std::string gunzip(const std::vector<unsigned char>& gz, const std::string& path) {
  const std::size_t n = gz.size();
  auto bad = [&](const char* what) -> std::string { fail(ErrorCode::format, path, ": bad gzip file: ", what); };
  if (n < 18 || gz[0] != 0x1F || gz[1] != 0x8B) bad("too short or no gzip magic");
  if (gz[2] != 8) bad("compression method is not deflate");
  const unsigned flags = gz[3];
  std::size_t pos = 10;
  if (flags & 4) {  // FEXTRA
    if (pos + 2 > n) bad("truncated header");
    pos += 2 + (gz[pos] | (std::size_t(gz[pos + 1]) << 8));
  }
  for (unsigned flag : {8u, 16u}) {  // FNAME, FCOMMENT: zero-terminated
    if (!(flags & flag)) continue;
    while (pos < n && gz[pos] != 0) ++pos;
    ++pos;
  }
  if (flags & 2) pos += 2;  // FHCRC
  if (pos + 8 > n) bad("truncated header");
  const std::size_t body = n - 8 - pos;
  if (body > std::size_t(0x7FFFFFFF)) bad("too large");
  int out_len = 0;
  std::unique_ptr<char, decltype(&std::free)> raw(
      stbi_zlib_decode_noheader_malloc(reinterpret_cast<const char*>(gz.data() + pos), int(body), &out_len),
      &std::free);
  if (!raw || out_len < 0) bad("corrupt or truncated deflate data");
  auto le32 = [&](std::size_t at) {
    return std::uint32_t(gz[at]) | std::uint32_t(gz[at + 1]) << 8 | std::uint32_t(gz[at + 2]) << 16 |
           std::uint32_t(gz[at + 3]) << 24;
  };
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.get());
  if (crc32(bytes, std::size_t(out_len)) != le32(n - 8) || std::uint32_t(out_len) != le32(n - 4))
    bad("CRC or length mismatch (truncated or corrupt)");
  return std::string(raw.get(), std::size_t(out_len));
}

inline bool is_ascii_digit(char32_t c) { return c >= '0' && c <= '9'; }
inline int hex_value(char32_t c) {
  if (is_ascii_digit(c)) return int(c - '0');
  if (c >= 'a' && c <= 'f') return int(c - 'a' + 10);
  if (c >= 'A' && c <= 'F') return int(c - 'A' + 10);
  return -1;
}

inline const char* find_entity(std::u32string_view name) {
  std::string key;
  for (char32_t c : name) {
    if (c >= 0x80) return nullptr;  // every supported name is ASCII
    key.push_back(char(c));
  }
  const auto* it = std::lower_bound(std::begin(kEntities), std::end(kEntities), key,
                                    [](const Entity& e, const std::string& k) { return k.compare(e.name) > 0; });
  return it != std::end(kEntities) && key == it->name ? it->value : nullptr;
}

inline void append_charref(std::u32string& out, std::uint64_t num) {
  for (const auto& r : kInvalidCharRef)
    if (r.code == num) { out.push_back(r.replacement); return; }
  if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) { out.push_back(0xFFFD); return; }
  if (in_table(kInvalidCodepoint, char32_t(num))) return;
  out.push_back(char32_t(num));
}

/// Python's html.unescape: numeric references with its replacement rules, named references from the
/// supported subset (exact name, else the longest known prefix as HTML5 specifies).
inline std::u32string html_unescape(std::u32string_view s) {
  std::u32string out;
  out.reserve(s.size());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    if (s[i] != '&') { out.push_back(s[i++]); continue; }
    std::size_t j = i + 1;
    if (j < n && s[j] == '#') {
      std::size_t k = j + 1;
      std::uint64_t num = 0;
      if (k < n && is_ascii_digit(s[k])) {
        for (; k < n && is_ascii_digit(s[k]); ++k) num = std::min<std::uint64_t>(num * 10 + (s[k] - '0'), 0x7FFFFFFF);
      } else if (k + 1 < n && (s[k] == 'x' || s[k] == 'X') && hex_value(s[k + 1]) >= 0) {
        for (++k; k < n && hex_value(s[k]) >= 0; ++k) num = std::min<std::uint64_t>(num * 16 + hex_value(s[k]), 0x7FFFFFFF);
      } else {
        out.push_back('&');
        ++i;
        continue;
      }
      if (k < n && s[k] == ';') ++k;
      append_charref(out, num);
      i = k;
      continue;
    }
    std::size_t k = j;
    auto name_char = [](char32_t c) {
      return c != '\t' && c != '\n' && c != '\f' && c != ' ' && c != '<' && c != '&' && c != '#' && c != ';';
    };
    while (k < n && k - j < 32 && name_char(s[k])) ++k;
    if (k == j) { out.push_back('&'); ++i; continue; }
    if (k < n && s[k] == ';') ++k;
    const std::u32string_view name = s.substr(j, k - j);
    const char* value = find_entity(name);
    std::size_t used = name.size();
    for (std::size_t x = name.size() - 1; !value && x >= 2; --x) {
      value = find_entity(name.substr(0, x));
      used = x;
    }
    if (value) {
      out += utf8_decode(value);
      out.append(name.substr(used));
    } else {
      out.push_back('&');
      out.append(name);
    }
    i = k;
  }
  return out;
}

inline std::u32string py_strip(std::u32string_view s) {
  std::size_t a = 0, b = s.size();
  while (a < b && in_table(kPySpace, s[a])) ++a;
  while (b > a && in_table(kPySpace, s[b - 1])) --b;
  return std::u32string(s.substr(a, b - a));
}

/// re.sub(r'\s+', ' ', s)
inline std::u32string collapse_whitespace(std::u32string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    if (in_table(kRegexSpace, s[i])) {
      out.push_back(' ');
      while (i < s.size() && in_table(kRegexSpace, s[i])) ++i;
    } else {
      out.push_back(s[i++]);
    }
  }
  return out;
}

inline char32_t lower_simple(char32_t c) {
  const auto* it = std::upper_bound(std::begin(kLower), std::end(kLower), std::uint32_t(c),
                                    [](std::uint32_t v, const LowerRun& r) { return v < r.first; });
  if (it == std::begin(kLower)) return c;
  const auto& r = *(it - 1);
  if (c > r.last || (c - r.first) % r.stride != 0) return c;
  return char32_t(std::int64_t(c) + r.delta);
}

/// Python's str.lower, including U+0130 -> "i\u0307" and the final-sigma rule for U+03A3.
inline std::u32string py_lower(std::u32string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char32_t c = s[i];
    if (c == 0x130) {
      out += U"i\u0307";
    } else if (c == 0x3A3) {
      std::size_t j = i;
      while (j > 0 && in_table(kCaseIgnorable, s[j - 1])) --j;
      bool final_sigma = j > 0 && in_table(kCased, s[j - 1]);
      if (final_sigma) {
        std::size_t k = i + 1;
        while (k < s.size() && in_table(kCaseIgnorable, s[k])) ++k;
        final_sigma = k == s.size() || !in_table(kCased, s[k]);
      }
      out.push_back(final_sigma ? 0x3C2 : 0x3C3);
    } else {
      out.push_back(lower_simple(c));
    }
  }
  return out;
}

/// One character of a literal alternative under the pattern's IGNORECASE flag.
inline bool matches_ascii(char32_t c, char ascii) {
  if (c == char32_t(ascii)) return true;
  for (const auto& f : kAsciiFold)
    if (f.from == c) return f.to == char32_t(ascii);
  return false;
}

inline std::size_t match_literal(std::u32string_view s, std::size_t pos, std::string_view lit) {
  if (s.size() - pos < lit.size()) return 0;
  for (std::size_t k = 0; k < lit.size(); ++k)
    if (!matches_ascii(s[pos + k], lit[k])) return 0;
  return lit.size();
}

/// re.findall with open_clip's pattern (IGNORECASE):
/// <start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
inline std::vector<std::u32string_view> pre_tokenize(std::u32string_view s) {
  static constexpr std::string_view literals[] = {"<start_of_text>", "<end_of_text>", "'s", "'t", "'re",
                                                  "'ve", "'m", "'ll", "'d"};
  std::vector<std::u32string_view> pieces;
  std::size_t pos = 0;
  while (pos < s.size()) {
    std::size_t len = 0;
    for (auto lit : literals)
      if ((len = match_literal(s, pos, lit)) != 0) break;
    if (len == 0) {
      // Runs of letters, one number, or runs of "other" (not space, letter or number).
      const char32_t c = s[pos];
      if (in_table(kLetter, c)) {
        for (len = 1; pos + len < s.size() && in_table(kLetter, s[pos + len]);) ++len;
      } else if (in_table(kNumber, c)) {
        len = 1;
      } else if (in_table(kOther, c)) {
        for (len = 1; pos + len < s.size() && in_table(kOther, s[pos + len]);) ++len;
      }
    }
    if (len == 0) { ++pos; continue; }
    pieces.push_back(s.substr(pos, len));
    pos += len;
  }
  return pieces;
}

}  // namespace detail

class Tokenizer {
 public:
  static constexpr int kNumMerges = 49152 - 256 - 2;
  static constexpr int kDefaultContextLength = 77;

  /// Reads bpe_simple_vocab_16e6.txt.gz (gzip) or its unzipped text.
  static Tokenizer from_file(const std::string& path) {
    const auto bytes = io::read_file_bytes(path);
    if (bytes.size() >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B) return from_merges(detail::gunzip(bytes, path), path);
    return from_merges(std::string(bytes.begin(), bytes.end()), path);
  }

  /// `text` is the content of the merges file; `origin` names it in error messages.
  static Tokenizer from_merges(const std::string& text, const std::string& origin = "<merges>") {
    Tokenizer t;
    t.build(text, origin);
    return t;
  }

  int sot_token() const { return sot_; }
  int eot_token() const { return eot_; }
  int vocab_size() const { return int(vocab_.size()); }

  /// The clean-up open_clip applies before pre-tokenizing (minus ftfy), as UTF-8.
  static std::string clean(std::string_view text) {
    using namespace detail;
    const auto u = html_unescape(html_unescape(utf8_decode(text)));
    return utf8_encode(py_lower(py_strip(collapse_whitespace(py_strip(u)))));
  }

  /// Token ids of `text` (UTF-8; invalid sequences are read as U+FFFD), without start/end tokens.
  std::vector<int> encode(std::string_view text) const {
    using namespace detail;
    const auto u = py_lower(py_strip(collapse_whitespace(py_strip(html_unescape(html_unescape(utf8_decode(text)))))));
    std::vector<int> ids;
    std::vector<int> word;
    for (const auto piece : pre_tokenize(u)) {
      if (piece == U"<start_of_text>") { ids.push_back(sot_); continue; }
      if (piece == U"<end_of_text>") { ids.push_back(eot_); continue; }
      const std::string bytes = utf8_encode(piece);
      word.clear();
      for (std::size_t i = 0; i < bytes.size(); ++i)
        word.push_back(byte_symbol_[(unsigned char)bytes[i]] + (i + 1 == bytes.size() ? 256 : 0));
      bpe(word);
      ids.insert(ids.end(), word.begin(), word.end());
    }
    return ids;
  }

  /// [N, context_length] int64: start token, ids, end token, zeros. Too long rows are cut to
  /// context_length and end with the end token, as open_clip.tokenize does.
  Tensor<std::int64_t> tokenize(const std::vector<std::string>& texts,
                                int context_length = kDefaultContextLength) const {
    BIQA_CHECK(context_length >= 1, ErrorCode::invalid_argument,
               "clip::Tokenizer::tokenize: context_length must be >= 1, got ", context_length);
    auto out = Tensor<std::int64_t>::zeros(Shape{std::int64_t(texts.size()), context_length});
    for (std::size_t r = 0; r < texts.size(); ++r) {
      std::vector<int> ids{sot_};
      const auto body = encode(texts[r]);
      ids.insert(ids.end(), body.begin(), body.end());
      ids.push_back(eot_);
      if (ids.size() > std::size_t(context_length)) {
        ids.resize(std::size_t(context_length));
        ids.back() = eot_;
      }
      std::copy(ids.begin(), ids.end(), out.data() + r * std::size_t(context_length));
    }
    return out;
  }

  /// Text of the ids: word ends become spaces, invalid UTF-8 becomes U+FFFD (as open_clip's decode).
  std::string decode(const std::vector<int>& ids) const {
    std::string bytes;
    for (int id : ids) {
      BIQA_CHECK(id >= 0 && id < vocab_size(), ErrorCode::invalid_argument, "clip::Tokenizer::decode: token id ",
                 id, " is outside the vocabulary [0, ", vocab_size(), ")");
      for (char32_t c : detail::utf8_decode(vocab_[std::size_t(id)])) bytes.push_back(char(byte_of_char(c)));
    }
    std::string text = detail::utf8_encode(detail::utf8_decode(bytes));
    std::string out;
    for (std::size_t i = 0; i < text.size();) {
      if (text.compare(i, 4, "</w>") == 0) { out.push_back(' '); i += 4; }
      else out.push_back(text[i++]);
    }
    return out;
  }

 private:
  Tokenizer() = default;

  static std::uint64_t pair_key(int a, int b) { return std::uint64_t(std::uint32_t(a)) << 32 | std::uint32_t(b); }

  unsigned char byte_of_char(char32_t c) const {
    if (c < 512 && char_byte_[c] >= 0) return (unsigned char)char_byte_[c];
    fail(ErrorCode::internal, "clip::Tokenizer: vocabulary symbol outside the byte alphabet");
  }

  void build(const std::string& text, const std::string& origin) {
    // GPT-2's byte alphabet: printable Latin-1 bytes stand for themselves, the rest map to 256+n.
    std::vector<int> bs;
    for (int b = '!'; b <= '~'; ++b) bs.push_back(b);
    for (int b = 0xA1; b <= 0xAC; ++b) bs.push_back(b);
    for (int b = 0xAE; b <= 0xFF; ++b) bs.push_back(b);
    std::vector<char32_t> cs(bs.begin(), bs.end());
    for (int b = 0, n = 0; b < 256; ++b)
      if (std::find(bs.begin(), bs.begin() + 188, b) == bs.begin() + 188) bs.push_back(b), cs.push_back(256 + n++);
    char_byte_.fill(-1);
    for (int i = 0; i < 256; ++i) {
      byte_symbol_[std::size_t(bs[i])] = i;
      char_byte_[cs[i]] = std::int16_t(bs[i]);
      vocab_.push_back(detail::utf8_encode(std::u32string(1, cs[i])));
    }
    for (int i = 0; i < 256; ++i) vocab_.push_back(vocab_[std::size_t(i)] + "</w>");

    // Lines 2 .. 1+kNumMerges hold "first second" pairs.
    std::vector<std::pair<std::string, std::string>> merges;
    merges.reserve(kNumMerges);
    std::size_t pos = text.find('\n');
    BIQA_CHECK(pos != std::string::npos, ErrorCode::format, origin, ": not a CLIP merges file (one line only)");
    ++pos;
    for (int line = 2; int(merges.size()) < kNumMerges && pos < text.size(); ++line) {
      std::size_t end = text.find('\n', pos);
      if (end == std::string::npos) end = text.size();
      std::vector<std::string> parts;
      std::size_t k = pos;
      while (k < end) {
        while (k < end && std::string_view(" \t\r\v\f").find(text[k]) != std::string_view::npos) ++k;
        std::size_t e = k;
        while (e < end && std::string_view(" \t\r\v\f").find(text[e]) == std::string_view::npos) ++e;
        if (e > k) parts.emplace_back(text.substr(k, e - k));
        k = e;
      }
      BIQA_CHECK(parts.size() == 2, ErrorCode::format, origin, ":", line, ": expected a merge \"first second\", found ",
                 parts.size(), " fields");
      merges.emplace_back(std::move(parts[0]), std::move(parts[1]));
      pos = end + 1;
    }
    BIQA_CHECK(int(merges.size()) == kNumMerges, ErrorCode::format, origin, ": expected ", kNumMerges,
               " merges after the header line, found ", merges.size());
    // Only the lines read must be UTF-8 (Python decodes the whole file; the rest is never used).
    const auto used = detail::utf8_decode(std::string_view(text).substr(0, std::min(pos, text.size())));
    BIQA_CHECK(used.find(char32_t(0xFFFD)) == std::u32string::npos, ErrorCode::format, origin,
               ": the CLIP merges file is not valid UTF-8");
    for (const auto& m : merges) vocab_.push_back(m.first + m.second);
    vocab_.push_back("<start_of_text>");
    vocab_.push_back("<end_of_text>");
    // Like a Python dict built from the list: a repeated string keeps its last id.
    for (std::size_t i = 0; i < vocab_.size(); ++i) encoder_.insert_or_assign(vocab_[i], int(i));
    sot_ = encoder_.at("<start_of_text>");
    eot_ = encoder_.at("<end_of_text>");
    for (int i = 0; i < 512; ++i) byte_symbol_id_check(i);
    for (std::size_t r = 0; r < merges.size(); ++r) {
      const auto a = encoder_.find(merges[r].first), b = encoder_.find(merges[r].second);
      BIQA_CHECK(a != encoder_.end() && b != encoder_.end(), ErrorCode::format, origin, ":", r + 2,
                 ": merge of an unknown symbol \"", merges[r].first, " ", merges[r].second, "\"");
      merge_.insert_or_assign(pair_key(a->second, b->second),
                              std::pair<int, int>(int(r), encoder_.at(merges[r].first + merges[r].second)));
    }
  }

  void byte_symbol_id_check(int i) {
    BIQA_CHECK(encoder_.at(vocab_[std::size_t(i)]) == i, ErrorCode::format,
               "clip::Tokenizer: a merge repeats a single-byte symbol");
  }

  /// Greedy BPE: repeatedly merge every occurrence of the lowest-ranked adjacent pair.
  void bpe(std::vector<int>& word) const {
    while (word.size() > 1) {
      int best_rank = -1, merged = 0, first = 0, second = 0;
      for (std::size_t i = 0; i + 1 < word.size(); ++i) {
        const auto it = merge_.find(pair_key(word[i], word[i + 1]));
        if (it != merge_.end() && (best_rank < 0 || it->second.first < best_rank)) {
          best_rank = it->second.first;
          merged = it->second.second;
          first = word[i];
          second = word[i + 1];
        }
      }
      if (best_rank < 0) break;
      std::size_t out = 0;
      for (std::size_t i = 0; i < word.size(); ++out) {
        if (i + 1 < word.size() && word[i] == first && word[i + 1] == second) {
          word[out] = merged;
          i += 2;
        } else {
          word[out] = word[i++];
        }
      }
      word.resize(out);
    }
  }

  std::vector<std::string> vocab_;  ///< id -> symbol in the byte alphabet (UTF-8)
  std::unordered_map<std::string, int> encoder_;
  std::unordered_map<std::uint64_t, std::pair<int, int>> merge_;  ///< (a, b) -> (rank, merged id)
  std::array<int, 256> byte_symbol_{};                             ///< byte -> id of its symbol
  std::array<std::int16_t, 512> char_byte_{};                      ///< alphabet character -> byte
  int sot_ = 0, eot_ = 0;
};

}  // namespace biqa::clip
