#pragma once
/// @file
/// BRISQUE: Blind/Referenceless Image Spatial Quality Evaluator (Mittal, Moorthy, Bovik, IEEE
/// TIP 2012). 36 natural-scene-statistics features at two scales (the AGGD fit of the MSCN
/// coefficients and of their four paired products), scaled to [-1, 1] with per-feature ranges,
/// then an epsilon-SVR with an RBF kernel. The parameters are OpenCV's LIVE-trained model
/// (brisque_model_live.yml, brisque_range_live.yml from Debian's opencv-data), read from the
/// YAML files directly or, in builds with BIQA_EMBED_BRISQUE_MODEL, from a header generated from
/// them at build time.
///
/// Scores: roughly 0 (best) to 100 (worst); lower is better. Unlike OpenCV, which clamps to
/// [0, 100], biqa returns the raw SVR output (it may leave that range for very clean or very
/// damaged images).

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/opencv_yaml.hpp"
#include "biqa/models/classic_features.hpp"
#include "biqa/models/quality_model.hpp"

#if defined(BIQA_HAS_EMBEDDED_BRISQUE)
#include "biqa/generated/brisque_live_model.hpp"
#endif

namespace biqa::models {

inline constexpr int brisque_feature_count = 36;

/// The 36 features of one image (18 per scale: AGGD shape and variance of the MSCN
/// coefficients, then for the H, V, D1, D2 paired products: shape, mean, left and right variance).
inline std::vector<float> brisque_features(const Tensor<float>& image) {
  nss::Plane grey = nss::grey_from_rgb(image);
  std::vector<float> f;
  f.reserve(brisque_feature_count);
  for (int scale = 0; scale < 2; ++scale) {
    const nss::Plane img =
        scale == 0 ? grey : nss::resize_cubic(grey, grey.rows / 2, grey.cols / 2);
    const nss::Plane m = nss::mscn(img);
    const auto fit = nss::aggd_fit(m.v.data(), m.v.size());
    f.push_back(static_cast<float>(fit.gamma));
    f.push_back(static_cast<float>(fit.left_sigma * fit.left_sigma +
                                   fit.right_sigma * fit.right_sigma) / 2);
    // Horizontal, vertical, main diagonal, anti-diagonal neighbours; pixels whose neighbour
    // falls outside the image contribute a product of 0.
    constexpr int shifts[4][2] = {{0, 1}, {1, 0}, {1, 1}, {-1, 1}};
    nss::Plane prod(m.rows, m.cols);
    for (const auto& sh : shifts) {
      for (int r = 0; r < m.rows; ++r)
        for (int c = 0; c < m.cols; ++c) {
          const int rr = r + sh[0], cc = c + sh[1];
          const float other = (rr >= 0 && rr < m.rows && cc >= 0 && cc < m.cols) ? m(rr, cc) : 0.f;
          prod(r, c) = m(r, c) * other;
        }
      const auto p = nss::aggd_fit(prod.v.data(), prod.v.size());
      const double g = p.gamma;
      const double mean = (p.right_sigma - p.left_sigma) * (std::tgamma(2 / g) / std::tgamma(1 / g)) *
                          (std::sqrt(std::tgamma(1 / g)) / std::sqrt(std::tgamma(3 / g)));
      f.push_back(static_cast<float>(g));
      f.push_back(static_cast<float>(mean));
      f.push_back(static_cast<float>(p.left_sigma * p.left_sigma));
      f.push_back(static_cast<float>(p.right_sigma * p.right_sigma));
    }
  }
  return f;
}

/// Where the default model files are looked for: $BIQA_BRISQUE_DIR, then Debian's opencv-data.
inline std::vector<std::string> brisque_search_dirs() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("BIQA_BRISQUE_DIR")) dirs.emplace_back(env);
  dirs.emplace_back("/usr/share/opencv4/quality");
  dirs.emplace_back("/usr/local/share/opencv4/quality");
  return dirs;
}

class Brisque final : public QualityModel {
 public:
  struct Svr {
    double gamma = 0;     ///< RBF kernel exp(-gamma |x - sv|²)
    double rho = 0;       ///< decision = sum(alpha_i K(x, sv_i)) - rho
    Eigen::MatrixXd support_vectors;  ///< n × 36
    Eigen::VectorXd alpha;
  };

  Brisque(Svr svr, std::vector<float> range_min, std::vector<float> range_max)
      : svr_(std::move(svr)), min_(std::move(range_min)), max_(std::move(range_max)) {
    BIQA_CHECK(min_.size() == brisque_feature_count && max_.size() == brisque_feature_count,
               ErrorCode::format, "BRISQUE range must have 2×", brisque_feature_count, " values");
    BIQA_CHECK(svr_.support_vectors.cols() == brisque_feature_count &&
                   svr_.alpha.size() == svr_.support_vectors.rows() &&
                   svr_.support_vectors.rows() > 0,
               ErrorCode::format, "BRISQUE SVR: inconsistent support vectors / alphas");
  }

  /// Parses OpenCV's model (cv::ml::SVM) and range (cv::FileStorage "range") YAML texts.
  static Brisque from_yaml(std::string_view model_yaml, std::string_view range_yaml,
                           const std::string& model_name = "brisque_model_live.yml",
                           const std::string& range_name = "brisque_range_live.yml") {
    const io::yaml::Node model = io::yaml::parse(model_yaml, model_name);
    const io::yaml::Node range = io::yaml::parse(range_yaml, range_name);
    return from_nodes(model, range);
  }

  static Brisque from_files(const std::string& model_path, const std::string& range_path) {
    for (const auto& p : {model_path, range_path})
      BIQA_CHECK(std::filesystem::exists(p), ErrorCode::io, "BRISQUE model file not found: ", p,
                 " (install Debian's opencv-data, or set BIQA_BRISQUE_DIR)");
    return from_nodes(io::yaml::read_file(model_path), io::yaml::read_file(range_path));
  }

  /// A model directory holding brisque_model_live.yml and brisque_range_live.yml.
  static Brisque from_directory(const std::string& dir) {
    return from_files(dir + "/brisque_model_live.yml", dir + "/brisque_range_live.yml");
  }

  static constexpr bool has_embedded() {
#if defined(BIQA_HAS_EMBEDDED_BRISQUE)
    return true;
#else
    return false;
#endif
  }

  /// The LIVE model compiled into this build (BIQA_EMBED_BRISQUE_MODEL=ON).
  static Brisque embedded() {
#if defined(BIQA_HAS_EMBEDDED_BRISQUE)
    return from_yaml(std::string_view(generated::brisque_model_live_yml, sizeof(generated::brisque_model_live_yml) - 1),
                     std::string_view(generated::brisque_range_live_yml, sizeof(generated::brisque_range_live_yml) - 1));
#else
    fail(ErrorCode::unsupported,
         "this build has no embedded BRISQUE model (configure with -DBIQA_EMBED_BRISQUE_MODEL=ON)");
#endif
  }

  /// The embedded model if present, otherwise the first directory of brisque_search_dirs()
  /// that holds both files.
  static Brisque load_default() {
    if constexpr (has_embedded()) return embedded();
    std::string tried;
    for (const auto& d : brisque_search_dirs()) {
      if (std::filesystem::exists(d + "/brisque_model_live.yml") &&
          std::filesystem::exists(d + "/brisque_range_live.yml"))
        return from_directory(d);
      tried += (tried.empty() ? "" : ", ") + d;
    }
    fail(ErrorCode::io, "BRISQUE model files brisque_model_live.yml / brisque_range_live.yml not ",
         "found in ", tried, " (install Debian's opencv-data, or set BIQA_BRISQUE_DIR)");
  }

  static const ModelInfo& card() {
    static const ModelInfo info = [] {
      ModelInfo i;
      i.name = "brisque";
      i.full_name = "BRISQUE (Mittal, Moorthy, Bovik 2012)";
      i.summary = "Natural-scene statistics of MSCN coefficients at two scales + RBF epsilon-SVR";
      i.reference = "A. Mittal, A. K. Moorthy, A. C. Bovik, No-reference image quality assessment "
                    "in the spatial domain, IEEE TIP 21(12), 2012";
      i.lower_is_better = true;
      i.range_min = 0;
      i.range_max = 100;
      i.bounded = false;
      i.input_policy = "no resize or crop; RGB rounded to 8 bits, grey = OpenCV BGR2GRAY "
                       "(0.299R+0.587G+0.114B, Q15 fixed point); scale 2 = bicubic (a=-0.75) "
                       "halving without antialiasing; MSCN with 7x7 Gaussian, sigma 7/6";
      i.stochastic = false;
      i.training_data = "LIVE IQA database (release 2), DMOS; model trained by OpenCV contrib";
      i.weights_licence = "OpenCV contrib (Apache-2.0 / BSD-3-Clause); BRISQUE method by UT "
                          "Austin LIVE, free for research with acknowledgement";
      i.weights_source = "Debian package opencv-data: /usr/share/opencv4/quality/"
                         "brisque_{model,range}_live.yml (embedded at build time when available)";
      return i;
    }();
    return info;
  }

  const ModelInfo& info() const override { return card(); }

  /// Features scaled to [-1, 1] with the training ranges (float, as the reference does).
  std::vector<float> scaled_features(const std::vector<float>& f) const {
    std::vector<float> s(f.size());
    for (std::size_t i = 0; i < f.size(); ++i)
      s[i] = -1.f + 2.f * (f[i] - min_[i]) / (max_[i] - min_[i]);
    return s;
  }

  double predict(const std::vector<float>& features) const {
    BIQA_CHECK(features.size() == brisque_feature_count, ErrorCode::invalid_argument,
               "BRISQUE expects ", brisque_feature_count, " features, got ", features.size());
    const std::vector<float> s = scaled_features(features);
    Eigen::RowVectorXd x(brisque_feature_count);
    for (int i = 0; i < brisque_feature_count; ++i) x[i] = s[static_cast<std::size_t>(i)];
    const Eigen::VectorXd d2 = (svr_.support_vectors.rowwise() - x).rowwise().squaredNorm();
    const double sum = (svr_.alpha.array() * (-svr_.gamma * d2.array()).exp()).sum();
    return sum - svr_.rho;
  }

  double score(const Tensor<float>& image, Context&) const override {
    return predict(brisque_features(image));
  }
  using QualityModel::score;

  Explanation explain(const Tensor<float>& image, Context&) const override {
    static const char* names[18] = {"mscn_shape", "mscn_variance",
                                    "h_shape",    "h_mean", "h_left_var", "h_right_var",
                                    "v_shape",    "v_mean", "v_left_var", "v_right_var",
                                    "d1_shape",   "d1_mean", "d1_left_var", "d1_right_var",
                                    "d2_shape",   "d2_mean", "d2_left_var", "d2_right_var"};
    const auto f = brisque_features(image);
    Explanation e;
    e.values.emplace_back("score", predict(f));
    for (std::size_t i = 0; i < f.size(); ++i)
      e.values.emplace_back(cat("scale", i / 18 + 1, ".", names[i % 18]), f[i]);
    return e;
  }

  const Svr& svr() const { return svr_; }

 private:
  static Brisque from_nodes(const io::yaml::Node& model, const io::yaml::Node& range) {
    const io::yaml::Node& svm = model.at("opencv_ml_svm");
    const std::string type = svm.at("svmType").text();
    BIQA_CHECK(type == "EPS_SVR" || type == "NU_SVR", ErrorCode::unsupported, svm.where(),
               ": svmType ", type, " is not a regression SVM");
    const io::yaml::Node& kernel = svm.at("kernel");
    BIQA_CHECK(kernel.at("type").text() == "RBF", ErrorCode::unsupported, kernel.where(),
               ": kernel ", kernel.at("type").text(), " (only RBF is supported)");
    Svr svr;
    svr.gamma = kernel.at("gamma").as_double();
    const long long var_count = svm.at("var_count").as_int();
    BIQA_CHECK(var_count == brisque_feature_count, ErrorCode::format, svm.where(),
               ": var_count ", var_count, ", expected ", brisque_feature_count);
    const io::yaml::Node& svs = svm.at("support_vectors");
    BIQA_CHECK(svs.is_sequence() && svs.size() > 0, ErrorCode::format, svs.where(),
               ": expected a list of support vectors");
    const long long sv_total = svm.at("sv_total").as_int();
    BIQA_CHECK(sv_total == static_cast<long long>(svs.size()), ErrorCode::format, svs.where(),
               ": ", svs.size(), " support vectors, sv_total says ", sv_total);
    svr.support_vectors.resize(static_cast<Eigen::Index>(svs.size()), brisque_feature_count);
    for (std::size_t i = 0; i < svs.size(); ++i) {
      const auto v = svs[i].as_doubles();
      BIQA_CHECK(v.size() == brisque_feature_count, ErrorCode::format, svs[i].where(), ": ",
                 v.size(), " values, expected ", brisque_feature_count);
      for (int j = 0; j < brisque_feature_count; ++j)
        svr.support_vectors(static_cast<Eigen::Index>(i), j) = v[static_cast<std::size_t>(j)];
    }
    const io::yaml::Node& dfs = svm.at("decision_functions");
    BIQA_CHECK(dfs.is_sequence() && dfs.size() == 1, ErrorCode::format, dfs.where(),
               ": a regression SVM has exactly one decision function");
    const io::yaml::Node& df = dfs[0];
    svr.rho = df.at("rho").as_double();
    const auto alpha = df.at("alpha").as_doubles();
    BIQA_CHECK(alpha.size() == svs.size(), ErrorCode::format, df.where(), ": ", alpha.size(),
               " alphas for ", svs.size(), " support vectors");
    // With an "index" list the decision function uses a subset of the vectors, in that order.
    Eigen::MatrixXd used = svr.support_vectors;
    if (const io::yaml::Node* index = df.find("index")) {
      const auto idx = index->as_doubles();
      BIQA_CHECK(idx.size() == alpha.size(), ErrorCode::format, index->where(), ": size mismatch");
      for (std::size_t k = 0; k < idx.size(); ++k) {
        const auto j = static_cast<Eigen::Index>(idx[k]);
        BIQA_CHECK(j >= 0 && j < svr.support_vectors.rows(), ErrorCode::format, index->where(),
                   ": index ", idx[k], " out of range");
        used.row(static_cast<Eigen::Index>(k)) = svr.support_vectors.row(j);
      }
    }
    svr.support_vectors = std::move(used);
    svr.alpha = Eigen::Map<const Eigen::VectorXd>(alpha.data(), static_cast<Eigen::Index>(alpha.size()));

    const io::yaml::Matrix r = io::yaml::to_matrix(range.at("range"));
    BIQA_CHECK(r.rows == 2 && r.cols == brisque_feature_count, ErrorCode::format,
               range.at("range").where(), ": expected a 2×", brisque_feature_count, " matrix, got ",
               r.rows, "×", r.cols);
    std::vector<float> lo(brisque_feature_count), hi(brisque_feature_count);
    for (int j = 0; j < brisque_feature_count; ++j) {
      lo[static_cast<std::size_t>(j)] = static_cast<float>(r(0, j));
      hi[static_cast<std::size_t>(j)] = static_cast<float>(r(1, j));
      BIQA_CHECK(hi[static_cast<std::size_t>(j)] > lo[static_cast<std::size_t>(j)],
                 ErrorCode::format, range.at("range").where(), ": empty range for feature ", j);
    }
    return Brisque(std::move(svr), std::move(lo), std::move(hi));
  }

  Svr svr_;
  std::vector<float> min_, max_;
};

}  // namespace biqa::models
