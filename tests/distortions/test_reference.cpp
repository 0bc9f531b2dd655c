// Closed-form checks against independent computations (tools/reference/make_distortion_fixtures.py:
// scipy.ndimage, numpy formulas, colorsys, scipy CubicSpline, PIL/libjpeg) and noise statistics.

#include <catch2/catch.hpp>

#include <cmath>

#include "biqa/distortions/dsm.hpp"
#include "biqa/distortions/dsmix.hpp"
#include "biqa/distortions/registry.hpp"
#include "biqa/io/image.hpp"
#include "biqa/io/npy.hpp"
#include "support/helpers.hpp"

using namespace biqa::distortions;
using biqa::test::data_path;

namespace {

Image input() { return biqa::io::read_image(data_path("distortions/input.png")); }
biqa::Tensor<float> fixture(const std::string& name) {
  return biqa::io::read_npy(data_path("distortions/" + name + ".npy")).to_float();
}
double max_abs_diff(const biqa::Tensor<float>& a, const biqa::Tensor<float>& b) {
  REQUIRE(a.shape() == b.shape());
  double m = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::fabs(double(a.data()[i]) - b.data()[i]));
  return m;
}
Image constant(float v, std::int64_t h = 96, std::int64_t w = 96) { return Image::full(biqa::Shape{h, w, 3}, v); }

}  // namespace

TEST_CASE("distortions reference: Gaussian and disk blurs with replicate borders", "[distortions][reference]") {
  const Image img = input();
  CHECK(max_abs_diff(gaussian_blur(img, 2.0), fixture("gaussian_blur_s2")) < 2e-6);
  CHECK(max_abs_diff(gaussian_blur(img, 0.5), fixture("gaussian_blur_s0p5")) < 2e-6);
  for (int r : {1, 4}) {
    const Kernel k = disk_kernel(r);
    const auto ref = fixture("disk_r" + std::to_string(r));
    REQUIRE(ref.size(0) == k.rows);
    double m = 0;
    for (int i = 0; i < k.rows * k.cols; ++i) m = std::max(m, std::fabs(k.k[std::size_t(i)] - ref.data()[i]));
    CHECK(m < 1e-7);
  }
  CHECK(max_abs_diff(lens_blur(img, 4), fixture("lens_blur_r4")) < 2e-6);
  CHECK(max_abs_diff(lens_blur(img, 2), fixture("lens_blur_r2")) < 2e-6);
}

TEST_CASE("distortions reference: motion kernel is a normalised line through the centre", "[distortions][reference]") {
  for (double angle : {0.0, 30.0, 90.0, 135.0}) {
    const Kernel k = motion_kernel(9, angle);
    double sum = 0, mx = 0, my = 0;
    for (int r = 0; r < k.rows; ++r)
      for (int c = 0; c < k.cols; ++c) {
        sum += k(r, c);
        mx += k(r, c) * (c - k.cols / 2);
        my += k(r, c) * (r - k.rows / 2);
      }
    INFO("angle " << angle);
    CHECK(sum == Approx(1.0).margin(1e-6));
    CHECK(std::fabs(mx) < 1e-6);  // symmetric about the centre
    CHECK(std::fabs(my) < 1e-6);
  }
  const Kernel h = motion_kernel(9, 0);  // horizontal: one row of 9 taps
  CHECK(h.rows == 1);
  CHECK(h.cols == 9);
  // Against the numpy transcription of fspecial('motion').
  for (auto [len, angle] : {std::pair<int, int>{9, 30}, {10, 135}, {4, 0}, {6, 90}}) {
    const Kernel k = motion_kernel(len, angle);
    const auto ref = fixture("motion_" + std::to_string(len) + "_" + std::to_string(angle));
    INFO("length " << len << " angle " << angle);
    REQUIRE(ref.size(0) == k.rows);
    REQUIRE(ref.size(1) == k.cols);
    double m = 0;
    for (int i = 0; i < k.rows * k.cols; ++i) m = std::max(m, std::fabs(k.k[std::size_t(i)] - ref.data()[i]));
    CHECK(m < 1e-7);
  }
  CHECK(max_abs_diff(motion_blur(input(), 10, 135.0), fixture("motion_blur_10_135")) < 2e-6);
}

TEST_CASE("distortions reference: colour spaces", "[distortions][reference]") {
  const Image img = input();
  CHECK(max_abs_diff(rgb2lab(img), fixture("lab")) < 2e-4);  // L in [0,100]: float32 rounding
  CHECK(max_abs_diff(lab2rgb(rgb2lab(img)), img) < 1e-5);
  CHECK(max_abs_diff(rgb2hsv(img), fixture("hsv")) < 1e-6);
  CHECK(max_abs_diff(hsv2rgb(rgb2hsv(img)), img) < 1e-6);
  CHECK(max_abs_diff(rgb2ycbcr(img), fixture("ycbcr")) < 1e-6);
  CHECK(max_abs_diff(ycbcr2rgb(rgb2ycbcr(img)), img) < 3e-6);
  CHECK(max_abs_diff(color_saturation_1(img, 0.4), fixture("color_saturation_1_0p4")) < 1e-6);
  CHECK(max_abs_diff(color_saturation_1(img, -0.4), fixture("color_saturation_1_m0p4")) < 1e-6);
  CHECK(max_abs_diff(color_saturation_2(img, 3), fixture("color_saturation_2_s3")) < 1e-5);
}

TEST_CASE("distortions reference: MATLAB spline tone curves", "[distortions][reference]") {
  const auto ref = fixture("spline_curves");  // 2×101: not-a-knot (5 points), parabola (3 points)
  const Spline nak = tone_curve(0.1, 0.9), par = tone_curve(0.8);
  double e1 = 0, e2 = 0;
  for (int i = 0; i <= 100; ++i) {
    e1 = std::max(e1, std::fabs(nak(i / 100.0) - ref.data()[i]));
    e2 = std::max(e2, std::fabs(par(i / 100.0) - ref.data()[101 + i]));
  }
  CHECK(e1 < 1e-6);
  CHECK(e2 < 1e-6);
  const Image img = input();
  CHECK(max_abs_diff(contrast_change(img, -0.4), fixture("contrast_change_m0p4")) < 1e-6);
  CHECK(max_abs_diff(darken(img, 0.2), fixture("darken_0p2")) < 1e-6);
}

TEST_CASE("distortions reference: multi-level Otsu and quantisation", "[distortions][reference]") {
  const Image img = input();
  for (int n : {7, 20}) {
    INFO(n << " thresholds");
    const auto t = multithresh(img, n);
    const auto ref = fixture("multithresh_" + std::to_string(n));
    REQUIRE(ref.numel() == n);
    for (int k = 0; k < n; ++k) CHECK(t[std::size_t(k)] == Approx(ref.data()[k]).margin(1e-6));
    CHECK(max_abs_diff(quantization(img, n), fixture("quantization_" + std::to_string(n))) < 1e-6);
  }
}

TEST_CASE("distortions reference: JPEG matches PIL's libjpeg round trip", "[distortions][reference]") {
#ifdef BIQA_HAVE_LIBJPEG
  const Image img = input();
  for (int q : {43, 24, 4}) {
    const auto ref = biqa::io::read_npy(data_path("distortions/jpeg_q" + std::to_string(q) + ".npy")).as<std::uint8_t>();
    const Image out = jpeg(img, q);
    REQUIRE(out.numel() == ref.numel());
    int worst = 0;
    std::int64_t equal = 0;
    for (std::int64_t i = 0; i < out.numel(); ++i) {
      const int d = std::abs(int(std::lround(out.data()[i] * 255)) - int(ref.data()[i]));
      worst = std::max(worst, d);
      equal += d == 0;
    }
    INFO("quality " << q << ": " << equal << "/" << out.numel() << " samples identical");
    CHECK(worst <= 1);
  }
#else
  CHECK_THROWS_AS(jpeg(input(), 40), biqa::Error);
#endif
}

TEST_CASE("distortions reference: JPEG2000 reaches its compression ratio", "[distortions][reference]") {
#ifdef BIQA_HAVE_OPENJPEG
  // 3× nearest upsampling of the fixture: large enough that every ratio leaves a real budget.
  const Image small = input();
  Image img = new_image(small.size(0) * 3, small.size(1) * 3);
  for (std::int64_t y = 0; y < img.size(0); ++y)
    for (std::int64_t x = 0; x < img.size(1); ++x)
      for (int c = 0; c < 3; ++c)
        img.data()[(y * img.size(1) + x) * 3 + c] = small.data()[((y / 3) * small.size(1) + x / 3) * 3 + c];
  double prev = 0;
  for (double r : {8.0, 16.0, 45.0, 120.0}) {
    const Image out = jpeg2000(img, r);
    REQUIRE(out.shape() == img.shape());
    double e = 0;
    for (std::int64_t i = 0; i < img.numel(); ++i) e += std::pow(out.data()[i] - img.data()[i], 2);
    CHECK(e > prev);
    prev = e;
  }
#else
  CHECK_THROWS_AS(jpeg2000(input(), 40), biqa::Error);
#endif
}

TEST_CASE("distortions reference: noise statistics", "[distortions][reference]") {
  const Image grey = constant(0.5f);
  const double n = double(grey.numel());
  SECTION("white noise: zero mean, the given variance") {
    Rng rng(1);
    const Image out = white_noise(grey, 0.005, rng);
    double s = 0, s2 = 0;
    for (std::int64_t i = 0; i < out.numel(); ++i) {
      const double d = out.data()[i] - 0.5;
      s += d;
      s2 += d * d;
    }
    CHECK(std::fabs(s / n) < 0.002);
    CHECK(s2 / n == Approx(0.005).epsilon(0.05));
  }
  SECTION("impulse noise: d/2 black, d/2 white, per sample") {
    Rng rng(2);
    const Image out = impulse_noise(grey, 0.03, rng);
    double zeros = 0, ones = 0;
    for (std::int64_t i = 0; i < out.numel(); ++i) {
      zeros += out.data()[i] == 0.0f;
      ones += out.data()[i] == 1.0f;
    }
    CHECK(zeros / n == Approx(0.015).epsilon(0.15));  // ±4 binomial standard deviations
    CHECK(ones / n == Approx(0.015).epsilon(0.15));
  }
  SECTION("multiplicative noise: uniform n with the given variance") {
    Rng rng(3);
    const double v = 0.02;
    const Image out = multiplicative_noise(grey, v, rng);
    double s2 = 0, mx = 0;
    for (std::int64_t i = 0; i < out.numel(); ++i) {
      const double m = (out.data()[i] - 0.5) / 0.5;
      s2 += m * m;
      mx = std::max(mx, std::fabs(m));
    }
    CHECK(s2 / n == Approx(v).epsilon(0.05));
    CHECK(mx <= std::sqrt(3 * v) + 1e-6);
    CHECK(mx > 0.95 * std::sqrt(3 * v));  // bounded support: uniform, not Gaussian
  }
  SECTION("colour-component noise: the given variance on Y, Cb and Cr") {
    Rng rng(4);
    const Image out = white_noise_color_component(grey, 0.002, rng);
    const Image a = rgb2ycbcr(out), b = rgb2ycbcr(grey);
    for (int c = 0; c < 3; ++c) {
      double s2 = 0;
      for (std::int64_t i = c; i < a.numel(); i += 3) s2 += std::pow(a.data()[i] - b.data()[i], 2);
      CHECK(s2 / (n / 3) == Approx(0.002).epsilon(0.08));
    }
  }
}

TEST_CASE("distortions reference: DSM and DSMix", "[distortions][reference]") {
  const Image img = input();
  const auto u8 = biqa::io::read_npy(data_path("distortions/jpeg_q24.npy")).as<std::uint8_t>();
  Image dist = new_image(img.size(0), img.size(1));
  for (std::int64_t i = 0; i < dist.numel(); ++i) dist.data()[i] = float(u8.data()[i]) / 255.0f;
  const auto dsm = distortion_sensitivity_map(dist, img, 8);
  CHECK(dsm.shape() == biqa::Shape{img.size(0) / 8, img.size(1) / 8});
  CHECK(max_abs_diff(dsm, fixture("dsm_jpeg_q24_p8")) < 1e-6);
  CHECK_THROWS_AS(distortion_sensitivity_map(dist, constant(0.5f, 8, 8)), biqa::Error);

  // DSMix: a pristine source gets zero weight; weights and the soft label sum to 1.
  Rng rng(5);
  const Image noisy = white_noise(img, 0.01, rng);
  std::vector<MixSource> src{{img, img, 125}, {noisy, img, 50}, {dist, img, 47}};
  Rng mix_rng(6);
  const MixResult r = dsmix(src, 126, mix_rng);
  REQUIRE(r.weights.size() == 3);
  CHECK(r.weights[0] == 0.0);
  CHECK(r.weights[1] + r.weights[2] == Approx(1.0));
  double label_sum = 0;
  for (float v : r.label) label_sum += v;
  CHECK(label_sum == Approx(1.0));
  CHECK(r.label[50] == Approx(r.weights[1]));
  // Each pixel of the mix comes from its owner.
  for (std::int64_t i = 0; i < img.size(0) * img.size(1); ++i) {
    const Image& s = src[std::size_t(r.owner[std::size_t(i)])].image;
    REQUIRE(r.image.data()[i * 3] == s.data()[i * 3]);
  }
  // All-pristine sources fall back to area weights.
  Rng r2(7);
  const MixResult flat = dsmix({{img, img, 125}, {img, img, 125}}, 126, r2);
  CHECK(flat.label[125] == Approx(1.0));
}
