#pragma once
/// @file
/// Compression family: JPEG2000 (#9) through OpenJPEG and JPEG (#10) through libjpeg. Each is a
/// round trip in memory. Without the library (BIQA_HAVE_OPENJPEG / BIQA_HAVE_LIBJPEG undefined)
/// the function raises biqa::Error (unsupported).

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "biqa/distortions/common.hpp"

#ifdef BIQA_HAVE_LIBJPEG
#include <csetjmp>
#include <jpeglib.h>
#endif
#ifdef BIQA_HAVE_OPENJPEG
#include <openjpeg.h>
#endif

namespace biqa::distortions {

namespace detail {
/// MATLAB im2uint8 for doubles: round(255·x) after clipping.
inline std::vector<std::uint8_t> to_u8(const Image& in) {
  std::vector<std::uint8_t> px(static_cast<std::size_t>(in.numel()));
  const float* p = in.data();
  for (std::int64_t i = 0; i < in.numel(); ++i) px[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(std::lround(clamp01(p[i]) * 255.0f));
  return px;
}
inline Image from_u8(const std::uint8_t* px, std::int64_t h, std::int64_t w) {
  Image out = new_image(h, w);
  for (std::int64_t i = 0; i < h * w * 3; ++i) out.data()[i] = float(px[i]) / 255.0f;
  return out;
}

#ifdef BIQA_HAVE_LIBJPEG
struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};
inline void jpeg_error_exit(j_common_ptr c) {
  auto* e = reinterpret_cast<JpegError*>(c->err);
  c->err->format_message(c, e->message);
  std::longjmp(e->jump, 1);
}
#endif
}  // namespace detail

/// Encodes 8-bit RGB (H×W×3) as a baseline JPEG with the IJG quality scale and 4:2:0 chroma
/// (libjpeg defaults, as MATLAB imwrite).
inline std::vector<std::uint8_t> encode_jpeg(const std::uint8_t* rgb, int h, int w, int quality) {
#ifdef BIQA_HAVE_LIBJPEG
  jpeg_compress_struct c{};
  detail::JpegError err{};
  c.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = detail::jpeg_error_exit;
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  if (setjmp(err.jump)) {
    jpeg_destroy_compress(&c);
    std::free(buf);
    fail(ErrorCode::internal, "jpeg: libjpeg encoder failed: ", err.message);
  }
  jpeg_create_compress(&c);
  jpeg_mem_dest(&c, &buf, &size);
  c.image_width = static_cast<JDIMENSION>(w);
  c.image_height = static_cast<JDIMENSION>(h);
  c.input_components = 3;
  c.in_color_space = JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, quality, TRUE);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(rgb + std::size_t(c.next_scanline) * std::size_t(w) * 3);
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::vector<std::uint8_t> out(buf, buf + size);
  std::free(buf);
  return out;
#else
  (void)rgb; (void)h; (void)w; (void)quality;
  fail(ErrorCode::unsupported, "jpeg: this build of biqa has no libjpeg (install libjpeg62-turbo-dev "
       "and reconfigure)");
#endif
}

/// Decodes a JPEG to 8-bit RGB with libjpeg's default (islow DCT, fancy upsampling).
inline std::vector<std::uint8_t> decode_jpeg(const std::vector<std::uint8_t>& bytes, int& h, int& w) {
#ifdef BIQA_HAVE_LIBJPEG
  jpeg_decompress_struct d{};
  detail::JpegError err{};
  d.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = detail::jpeg_error_exit;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&d);
    fail(ErrorCode::format, "jpeg: cannot decode: ", err.message);
  }
  jpeg_create_decompress(&d);
  jpeg_mem_src(&d, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&d, TRUE);
  d.out_color_space = JCS_RGB;
  jpeg_start_decompress(&d);
  h = static_cast<int>(d.output_height);
  w = static_cast<int>(d.output_width);
  std::vector<std::uint8_t> px(std::size_t(h) * std::size_t(w) * 3);
  while (d.output_scanline < d.output_height) {
    JSAMPROW row = px.data() + std::size_t(d.output_scanline) * std::size_t(w) * 3;
    jpeg_read_scanlines(&d, &row, 1);
  }
  jpeg_finish_decompress(&d);
  jpeg_destroy_decompress(&d);
  return px;
#else
  (void)bytes; (void)h; (void)w;
  fail(ErrorCode::unsupported, "jpeg: this build of biqa has no libjpeg");
#endif
}

/// #10 jpeg: quality 1–100 (fractional qualities are rounded).
inline Image jpeg(const Image& in, double quality) {
  check_rgb(in, "jpeg");
  const int q = std::clamp(static_cast<int>(std::lround(quality)), 1, 100);
  const int h = static_cast<int>(in.size(0)), w = static_cast<int>(in.size(1));
  const auto bytes = encode_jpeg(detail::to_u8(in).data(), h, w, q);
  int dh = 0, dw = 0;
  const auto px = decode_jpeg(bytes, dh, dw);
  return detail::from_u8(px.data(), dh, dw);
}

#ifdef BIQA_HAVE_OPENJPEG
namespace detail {
struct MemStream {
  std::vector<std::uint8_t> data;
  std::size_t pos = 0;
};
inline OPJ_SIZE_T mem_write(void* buf, OPJ_SIZE_T n, void* user) {
  auto* s = static_cast<MemStream*>(user);
  if (s->pos + n > s->data.size()) s->data.resize(s->pos + n);
  std::memcpy(s->data.data() + s->pos, buf, n);
  s->pos += n;
  return n;
}
inline OPJ_SIZE_T mem_read(void* buf, OPJ_SIZE_T n, void* user) {
  auto* s = static_cast<MemStream*>(user);
  if (s->pos >= s->data.size()) return static_cast<OPJ_SIZE_T>(-1);
  n = std::min<OPJ_SIZE_T>(n, s->data.size() - s->pos);
  std::memcpy(buf, s->data.data() + s->pos, n);
  s->pos += n;
  return n;
}
inline OPJ_OFF_T mem_skip(OPJ_OFF_T n, void* user) {
  auto* s = static_cast<MemStream*>(user);
  const auto np = std::max<OPJ_OFF_T>(0, static_cast<OPJ_OFF_T>(s->pos) + n);
  s->pos = static_cast<std::size_t>(np);
  return n;
}
inline OPJ_BOOL mem_seek(OPJ_OFF_T n, void* user) {
  static_cast<MemStream*>(user)->pos = static_cast<std::size_t>(n);
  return OPJ_TRUE;
}
inline opj_stream_t* make_stream(MemStream& s, bool input) {
  opj_stream_t* st = opj_stream_create(1 << 16, input ? OPJ_TRUE : OPJ_FALSE);
  opj_stream_set_user_data(st, &s, nullptr);
  opj_stream_set_user_data_length(st, s.data.size());
  if (input) opj_stream_set_read_function(st, mem_read);
  else opj_stream_set_write_function(st, mem_write);
  opj_stream_set_skip_function(st, mem_skip);
  opj_stream_set_seek_function(st, mem_seek);
  return st;
}
}  // namespace detail
#endif

/// #9 jpeg2000: a JPEG 2000 code stream at the given compression ratio (raw size / coded size,
/// one quality layer, irreversible 9/7 wavelet, OpenJPEG's default of 6 resolutions reduced for
/// small images), decoded again.
inline Image jpeg2000(const Image& in, double ratio) {
  check_rgb(in, "jpeg2000");
#ifdef BIQA_HAVE_OPENJPEG
  const int h = static_cast<int>(in.size(0)), w = static_cast<int>(in.size(1));
  const auto px = detail::to_u8(in);
  opj_image_cmptparm_t cp[3]{};
  for (auto& c : cp) {
    c.dx = c.dy = 1;
    c.w = static_cast<OPJ_UINT32>(w);
    c.h = static_cast<OPJ_UINT32>(h);
    c.prec = 8;
    c.sgnd = 0;
  }
  opj_image_t* image = opj_image_create(3, cp, OPJ_CLRSPC_SRGB);
  BIQA_CHECK(image, ErrorCode::internal, "jpeg2000: cannot allocate the image");
  image->x1 = static_cast<OPJ_UINT32>(w);
  image->y1 = static_cast<OPJ_UINT32>(h);
  for (int c = 0; c < 3; ++c)
    for (std::size_t i = 0; i < std::size_t(h) * std::size_t(w); ++i) image->comps[c].data[i] = px[i * 3 + std::size_t(c)];
  opj_cparameters_t params;
  opj_set_default_encoder_parameters(&params);
  params.tcp_numlayers = 1;
  params.tcp_rates[0] = static_cast<float>(std::max(1.0, ratio));
  params.cp_disto_alloc = 1;
  params.irreversible = 1;
  params.tcp_mct = 1;
  while (params.numresolution > 1 && (std::min(w, h) >> (params.numresolution - 1)) < 1) --params.numresolution;
  detail::MemStream enc_buf;
  opj_codec_t* enc = opj_create_compress(OPJ_CODEC_J2K);
  bool ok = opj_setup_encoder(enc, &params, image);
  opj_stream_t* out = detail::make_stream(enc_buf, false);
  ok = ok && opj_start_compress(enc, image, out) && opj_encode(enc, out) && opj_end_compress(enc, out);
  opj_stream_destroy(out);
  opj_destroy_codec(enc);
  opj_image_destroy(image);
  BIQA_CHECK(ok, ErrorCode::internal, "jpeg2000: OpenJPEG encoder failed (", w, "×", h, ", ratio ", ratio, ")");

  enc_buf.pos = 0;
  opj_dparameters_t dp;
  opj_set_default_decoder_parameters(&dp);
  opj_codec_t* dec = opj_create_decompress(OPJ_CODEC_J2K);
  opj_setup_decoder(dec, &dp);
  opj_stream_t* src = detail::make_stream(enc_buf, true);
  opj_image_t* decoded = nullptr;
  ok = opj_read_header(src, dec, &decoded) && opj_decode(dec, src, decoded) && opj_end_decompress(dec, src);
  opj_stream_destroy(src);
  opj_destroy_codec(dec);
  if (!ok || !decoded || decoded->numcomps < 3) {
    if (decoded) opj_image_destroy(decoded);
    fail(ErrorCode::internal, "jpeg2000: OpenJPEG decoder failed");
  }
  Image result = new_image(h, w);
  for (int c = 0; c < 3; ++c)
    for (std::size_t i = 0; i < std::size_t(h) * std::size_t(w); ++i)
      result.data()[i * 3 + std::size_t(c)] = float(std::clamp(decoded->comps[c].data[i], 0, 255)) / 255.0f;
  opj_image_destroy(decoded);
  return result;
#else
  (void)ratio;
  fail(ErrorCode::unsupported, "jpeg2000: this build of biqa has no OpenJPEG (install libopenjp2-7-dev "
       "and reconfigure)");
#endif
}

}  // namespace biqa::distortions
