#include <catch2/catch.hpp>

#include <string>

#include "biqa/transforms/clip_preprocess.hpp"
#include "biqa/transforms/crop.hpp"
#include "biqa/transforms/normalize.hpp"
#include "biqa/transforms/resize.hpp"
#include "biqa/transforms/to_tensor.hpp"
#include "support/parity.hpp"

using biqa::Context;
using biqa::Tensor;
namespace tf = biqa::transforms;

namespace {
// tests/data/transforms/transforms.safetensors: "<case>.<name>" tensors and the "cases" list.
class TransformFixture {
 public:
  TransformFixture()
      : file_(biqa::io::load_weights(biqa::test::fixture_path("transforms/transforms.safetensors"))),
        cases_(biqa::json::parse(file_.metadata.at("cases"), "transforms")) {}
  const biqa::json::Array& cases() const { return cases_.as_array(); }
  Tensor<float> get(const biqa::json::Value& c, const std::string& name) const {
    return file_.to_float(file_.at(c["name"].as_string() + "." + name));
  }

 private:
  biqa::io::WeightFile file_;
  biqa::json::Value cases_;
};

std::int64_t at(const biqa::json::Value& v, std::size_t i) { return v.as_array().at(i).as_int(); }
}  // namespace

TEST_CASE("transforms match torchvision.transforms.functional on float tensors", "[transforms]") {
  TransformFixture f;
  Context ctx(2);
  int checked = 0;
  for (const auto& c : f.cases()) {
    const std::string op = c["op"].as_string(), label = "transforms/" + c["name"].as_string();
    const Tensor<float> x = f.get(c, "input");
    if (op == "resize") {
      tf::ResizeOptions opt;
      opt.interpolation = c["mode"].as_string() == "bicubic" ? tf::Interpolation::bicubic : tf::Interpolation::bilinear;
      opt.antialias = c["antialias"].as_bool();
      const auto& size = c["size"];
      const Tensor<float> y = size.as_array().size() == 1 ? tf::resize_shorter(x, at(size, 0), ctx, opt)
                                                          : tf::resize(x, at(size, 0), at(size, 1), ctx, opt);
      biqa::test::check_parity(label, y, f.get(c, "output"));
      // A batch gives the same as the image.
      biqa::test::check_parity(label + " batched",
                               (size.as_array().size() == 1 ? tf::resize_shorter(x.unsqueeze(0), at(size, 0), ctx, opt)
                                                            : tf::resize(x.unsqueeze(0), at(size, 0), at(size, 1), ctx, opt))
                                   .select(0, 0),
                               f.get(c, "output"));
    } else if (op == "center_crop") {
      biqa::test::check_parity(label, tf::center_crop(x, at(c["size"], 0), at(c["size"], 1)), f.get(c, "output"), 0.0);
    } else if (op == "five_crop") {
      const auto crops = tf::five_crop(x, at(c["size"], 0), at(c["size"], 1));
      const char* names[5] = {"tl", "tr", "bl", "br", "center"};
      for (int i = 0; i < 5; ++i) biqa::test::check_parity(label + "." + names[i], crops[i], f.get(c, names[i]), 0.0);
    } else if (op == "crop") {
      const auto& b = c["box"];
      biqa::test::check_parity(label, tf::crop(x, at(b, 0), at(b, 1), at(b, 2), at(b, 3)), f.get(c, "output"), 0.0);
    } else if (op == "normalize") {
      biqa::test::check_parity(label, tf::normalize(x, tf::imagenet_mean_std()), f.get(c, "output"));
    } else if (op == "clip_preprocess") {
      biqa::test::check_parity(label, tf::clip_preprocess(x, ctx, c["size"].as_int()), f.get(c, "output"));
    } else {
      FAIL("unknown op " << op);
    }
    ++checked;
  }
  REQUIRE(checked == static_cast<int>(f.cases().size()));
  REQUIRE(checked >= 14);
}

TEST_CASE("transforms: torchvision's size rules and bad input", "[transforms]") {
  // torchvision: shorter side → N, longer → int(N · long / short), capped by max_size.
  CHECK(tf::shorter_side_size(480, 640, 224) == std::array<std::int64_t, 2>{224, 298});
  CHECK(tf::shorter_side_size(640, 480, 224) == std::array<std::int64_t, 2>{298, 224});
  CHECK(tf::shorter_side_size(100, 100, 7) == std::array<std::int64_t, 2>{7, 7});
  CHECK(tf::shorter_side_size(100, 400, 50, 120) == std::array<std::int64_t, 2>{30, 120});
  REQUIRE_THROWS_AS(tf::shorter_side_size(100, 400, 50, 50), biqa::Error);
  Context ctx;
  REQUIRE_THROWS_AS(tf::resize(Tensor<float>::zeros({4, 4}), 2, 2, ctx), biqa::Error);
  REQUIRE_THROWS_AS(tf::five_crop(Tensor<float>::zeros({3, 4, 4}), 5, 2), biqa::Error);
  REQUIRE_THROWS_AS(tf::normalize(Tensor<float>::zeros({1, 4, 2, 2}), tf::imagenet_mean_std()), biqa::Error);
}

TEST_CASE("transforms::to_tensor turns H×W×C images into [1, C, H, W]", "[transforms]") {
  Tensor<std::uint8_t> u8({2, 3, 3});
  for (std::int64_t i = 0; i < u8.numel(); ++i) u8.data()[i] = static_cast<std::uint8_t>(i * 13);
  const Tensor<float> t = tf::to_tensor(u8);
  REQUIRE(t.shape() == biqa::Shape{1, 3, 2, 3});
  for (std::int64_t y = 0; y < 2; ++y)
    for (std::int64_t x = 0; x < 3; ++x)
      for (std::int64_t c = 0; c < 3; ++c)
        CHECK(t(0, c, y, x) == static_cast<float>(u8(y, x, c)) / 255.0f);
  Tensor<float> f({2, 3, 3});
  for (std::int64_t i = 0; i < f.numel(); ++i) f.data()[i] = static_cast<float>(i) / 17.0f;
  const Tensor<float> g = tf::to_tensor(f);
  CHECK(g(0, 2, 1, 0) == f(1, 0, 2));
  REQUIRE_THROWS_AS(tf::to_tensor(Tensor<float>::zeros({4, 4})), biqa::Error);
}
