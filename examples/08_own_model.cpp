// Lesson 8: a quality model of your own from the building blocks: a ResNet-18 feature extractor and
// a linear head fitted by ridge regression, as `biqa train-head` does (biqa/probe/ridge.hpp).
//
//   08_own_model PHOTO [--weights RESNET18.safetensors|.pth] [--save FEATURES.safetensors]
//
// The training set is made, not collected: crops of PHOTO blurred at KADID-10k's levels 1–5, the
// target being the level (so the model measures blur). Four crops train the head; two other crops
// are held out. Without --weights the ResNet has random (seeded) weights: random convolutions still
// respond to edges and fine texture, which blur removes, so even they give a usable blur meter.
// The program prints the fit (SRCC, PLCC) on the training crops and on the held-out ones; only the
// held-out numbers say whether the model learned anything, since 512 features fit 20 targets easily.
// --save writes the features and levels ("train.x", "train.y", "test.x", "test.y").

#include <biqa/core/python_random.hpp>
#include <biqa/distortions.hpp>
#include <biqa/io/image.hpp>
#include <biqa/io/safetensors.hpp>
#include <biqa/io/weights.hpp>
#include <biqa/metrics/correlation.hpp>
#include <biqa/nn/resnet.hpp>
#include <biqa/probe/ridge.hpp>
#include <biqa/transforms/normalize.hpp>
#include <biqa/transforms/to_tensor.hpp>

#include <cmath>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace {
constexpr std::int64_t kCrop = 64;
constexpr double kLambda = 10.0;  // ridge penalty on standardised features (train-head's --lambda)

// torchvision's resnet18 state_dict with He-uniform convolutions and BatchNorms at identity, so the
// signal neither dies nor explodes through the 8 blocks.
biqa::io::WeightStore random_resnet18() {
  biqa::PythonRandom rng(8);
  std::vector<biqa::io::TensorBlob> blobs;
  auto conv = [&](const std::string& name, std::int64_t out, std::int64_t in, std::int64_t k) {
    biqa::Tensor<float> w({out, in, k, k});
    const double bound = std::sqrt(6.0 / double(in * k * k));
    for (std::int64_t i = 0; i < w.numel(); ++i) w.data()[i] = static_cast<float>((2 * rng.random() - 1) * bound);
    blobs.push_back(biqa::io::make_blob(name + ".weight", w));
  };
  auto bn = [&](const std::string& name, std::int64_t c) {
    for (auto [key, value] : {std::pair{"weight", 1.0f}, {"bias", 0.0f}, {"running_mean", 0.0f}, {"running_var", 1.0f}})
      blobs.push_back(biqa::io::make_blob(name + "." + key, biqa::Tensor<float>::full({c}, value)));
  };
  conv("conv1", 64, 3, 7), bn("bn1", 64);
  std::int64_t in = 64;
  for (int s = 0; s < 4; ++s) {
    const std::int64_t planes = 64 << s;
    for (int i = 0; i < 2; ++i) {
      const std::string b = "layer" + std::to_string(s + 1) + "." + std::to_string(i) + ".";
      conv(b + "conv1", planes, i == 0 ? in : planes, 3), bn(b + "bn1", planes);
      conv(b + "conv2", planes, planes, 3), bn(b + "bn2", planes);
      if (i == 0 && s > 0) conv(b + "downsample.0", planes, in, 1), bn(b + "downsample.1", planes);
    }
    in = planes;
  }
  const auto bytes = biqa::io::encode_safetensors(blobs);
  auto file = biqa::io::MappedFile::from_bytes(bytes.data(), bytes.size(), "random resnet18");
  return biqa::io::WeightStore(biqa::io::read_safetensors(file));
}

// The new model: features from the frozen backbone, a score from the fitted head.
struct BlurMeter {
  biqa::nn::ResNet backbone;
  biqa::probe::LinearHead head;

  Eigen::RowVectorXd features(const biqa::Tensor<float>& image, biqa::Context& ctx) const {
    const auto x = biqa::transforms::normalize(biqa::transforms::to_tensor(image), biqa::transforms::imagenet_mean_std());
    const biqa::Tensor<float> f = backbone.forward(x, ctx).contiguous();  // [1, 512]: pooled, no fc
    return Eigen::Map<const Eigen::RowVectorXf>(f.data(), f.numel()).cast<double>();
  }
  // The predicted blur level of an H×W×3 image in [0, 1].
  double score(const biqa::Tensor<float>& image, biqa::Context& ctx) const { return features(image, ctx).dot(head.weight) + head.bias; }
};
}  // namespace

int main(int argc, char** argv) {
  std::optional<std::string> weights, save;
  bool usage = argc < 2;
  for (int i = 2; i < argc && !usage; i += 2) {
    const std::string option = argv[i];
    if (i + 1 >= argc || (option != "--weights" && option != "--save")) usage = true;
    else (option == "--weights" ? weights : save) = argv[i + 1];
  }
  if (usage) {
    std::cerr << "usage: " << argv[0] << " PHOTO [--weights RESNET18] [--save FEATURES.safetensors]\n";
    return 1;
  }
  try {
    biqa::Context ctx;
    const biqa::Tensor<float> photo = biqa::io::read_image(argv[1]);
    BIQA_CHECK(photo.size(0) >= 2 * kCrop && photo.size(1) >= 3 * kCrop, biqa::ErrorCode::invalid_argument, argv[1],
               " is smaller than ", 3 * kCrop, "x", 2 * kCrop);
    biqa::io::WeightStore store = weights ? biqa::io::open_weights(*weights) : random_resnet18();
    auto config = biqa::nn::ResNet::detect(biqa::nn::ResNet::Config::for_depth(18), store.root());
    config.num_classes = 0;  // drop the ImageNet classifier: we want the pooled features (512)
    BlurMeter model{biqa::nn::ResNet(config), {}};
    model.backbone.load(store.root());
    store.ignore_prefix("fc.");
    store.finish();

    // Six crops on a 2×3 grid; the first four train, the last two are held out.
    biqa::probe::MatrixXd x_train(0, config.num_features()), x_test(0, config.num_features());
    std::vector<double> y_train, y_test;
    for (int c = 0; c < 6; ++c) {
      const std::int64_t top = (c / 3) * (photo.size(0) - kCrop), left = (c % 3) * (photo.size(1) - kCrop) / 2;
      const biqa::Tensor<float> crop = photo.slice(0, top, top + kCrop).slice(1, left, left + kCrop).contiguous();
      for (int level = 1; level <= 5; ++level) {
        auto& x = c < 4 ? x_train : x_test;
        x.conservativeResize(x.rows() + 1, Eigen::NoChange);
        x.row(x.rows() - 1) = model.features(biqa::distortions::apply("gaussian_blur", level, crop, 1), ctx);
        (c < 4 ? y_train : y_test).push_back(level);
      }
    }
    model.head = biqa::probe::fit_ridge(x_train, y_train, kLambda);

    auto report = [](const char* name, const Eigen::VectorXd& p, const std::vector<double>& y) {
      const std::vector<double> pred(p.data(), p.data() + p.size());
      std::cout << name << " SRCC " << biqa::metrics::srcc(pred, y) << "\n"
                << name << " PLCC " << biqa::metrics::plcc(pred, y) << "\n";
    };
    std::cout.precision(9);
    std::cout << "features " << x_train.cols() << " per image, " << y_train.size() << " training and " << y_test.size()
              << " held-out images, ridge lambda " << kLambda << "\n";
    report("train", model.head.predict(x_train), y_train);
    report("held-out", model.head.predict(x_test), y_test);
    const Eigen::VectorXd p = model.head.predict(x_test);
    for (Eigen::Index i = 0; i < p.size(); ++i) std::cout << "held-out level " << y_test[i] << " predicted " << p(i) << "\n";
    // The model in use, on an image it never saw: the photo's own centre, not blurred at all.
    const std::int64_t top = (photo.size(0) - kCrop) / 2, left = (photo.size(1) - kCrop) / 2;
    std::cout << "unblurred centre crop scores "
              << model.score(photo.slice(0, top, top + kCrop).slice(1, left, left + kCrop).contiguous(), ctx) << "\n";
    if (save) {
      auto blob = [](const std::string& name, const biqa::probe::MatrixXd& m) {
        biqa::Tensor<float> t({m.rows(), m.cols()});
        using RowMajorF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
        Eigen::Map<RowMajorF>(t.data(), m.rows(), m.cols()) = m.cast<float>();
        return biqa::io::make_blob(name, t);
      };
      auto levels = [](const std::vector<double>& y) {
        return Eigen::Map<const Eigen::VectorXd>(y.data(), Eigen::Index(y.size())).transpose();
      };
      biqa::io::write_safetensors(*save, {blob("train.x", x_train), blob("train.y", levels(y_train)), blob("test.x", x_test),
                                          blob("test.y", levels(y_test))});
      std::cout << "saved features to " << *save << "\n";
    }
  } catch (const biqa::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
