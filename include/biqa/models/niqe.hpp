#pragma once
/// @file
/// NIQE: Natural Image Quality Evaluator (Mittal, Soundararajan, Bovik, IEEE SPL 2013), an
/// opinion-unaware model: the 36 NSS features of 96×96 patches (two scales) of a test image are
/// summarised by a multivariate Gaussian and compared with the Gaussian fitted on sharp patches
/// of pristine photos:  score = sqrt((mu1 - mu2)ᵀ ((S1 + S2) / 2)⁺ (mu1 - mu2)).  Lower is better.
/// The pristine model is fitted by fit_niqe() (`biqa fit-niqe`) and stored as safetensors
/// ("mu" [36], "cov" [36, 36], provenance in __metadata__).

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/safetensors.hpp"
#include "biqa/models/classic_features.hpp"
#include "biqa/models/quality_model.hpp"

namespace biqa::models {

inline constexpr int niqe_feature_count = 36;

struct NiqeOptions {
  int patch = 96;               ///< patch side at full scale (half of it at the second scale)
  double sharpness_ratio = 0.75;  ///< fit: keep patches whose sharpness exceeds ratio × the maximum
};

namespace niqe_detail {

/// Generalized Gaussian shape by moment matching on the reference's grid 0.2:0.001:10.
inline double ggd_shape(double rho) {
  static const std::vector<std::pair<double, double>> grid = [] {
    std::vector<std::pair<double, double>> g;
    for (double a = 0.2; a < 10.0005; a += 0.001)
      g.emplace_back(a, std::tgamma(1 / a) * std::tgamma(3 / a) / std::pow(std::tgamma(2 / a), 2));
    return g;
  }();
  double best = grid.front().first, err = 1e300;
  for (const auto& [a, r] : grid)
    if (std::abs(rho - r) < err) { err = std::abs(rho - r); best = a; }
  return best;
}

/// The 18 features of one MSCN patch: GGD shape and variance, then per neighbour direction the
/// AGGD shape, mean, left and right variance (products only where both pixels are in the patch).
inline void patch_features(const nss::Plane& m, int r0, int c0, int size, std::vector<double>& out) {
  std::vector<float> v;
  v.reserve(std::size_t(size) * size);
  double sq = 0, ab = 0;
  for (int r = r0; r < r0 + size; ++r)
    for (int c = c0; c < c0 + size; ++c) {
      const double x = m(r, c);
      if (!(x == x)) continue;
      sq += x * x;
      ab += std::abs(x);
      v.push_back(static_cast<float>(x));
    }
  const double n = double(v.size());
  const double sigma_sq = sq / n, e = ab / n;
  out.push_back(ggd_shape(sigma_sq / (e * e)));
  out.push_back(sigma_sq);
  constexpr int shifts[4][2] = {{0, 1}, {1, 0}, {1, 1}, {-1, 1}};
  for (const auto& sh : shifts) {
    v.clear();
    for (int r = r0; r < r0 + size; ++r)
      for (int c = c0; c < c0 + size; ++c) {
        const int rr = r + sh[0], cc = c + sh[1];
        if (rr < r0 || rr >= r0 + size || cc < c0 || cc >= c0 + size) continue;
        v.push_back(m(r, c) * m(rr, cc));
      }
    const auto f = nss::aggd_fit(v.data(), v.size());
    const double g = f.gamma;
    const double mean = (f.right_sigma - f.left_sigma) * (std::tgamma(2 / g) / std::tgamma(1 / g)) *
                        std::sqrt(std::tgamma(1 / g) / std::tgamma(3 / g));
    out.push_back(g);
    out.push_back(mean);
    out.push_back(f.left_sigma * f.left_sigma);
    out.push_back(f.right_sigma * f.right_sigma);
  }
}

/// Mean absolute deviation from the local (Gaussian) mean over a patch: the sharpness used to
/// pick pristine patches (the paper averages the local standard deviation; this is its L1 twin).
inline double patch_sharpness(const nss::Plane& img, const nss::Plane& mu, int r0, int c0, int size) {
  double s = 0;
  for (int r = r0; r < r0 + size; ++r)
    for (int c = c0; c < c0 + size; ++c) s += std::abs(img(r, c) - mu(r, c));
  return s / (double(size) * size);
}

}  // namespace niqe_detail

struct NiqePatches {
  Eigen::MatrixXd features;  ///< patches × 36
  std::vector<double> sharpness;
};

/// Features of every full patch of an image (the image is cropped to a multiple of the patch).
inline NiqePatches niqe_patch_features(const Tensor<float>& image, const NiqeOptions& opt = {}) {
  BIQA_CHECK(opt.patch >= 8 && opt.patch % 2 == 0, ErrorCode::invalid_argument,
             "NIQE patch size must be even and at least 8, got ", opt.patch);
  const nss::Plane grey = nss::grey_from_rgb(image);
  const int pr = grey.rows / opt.patch, pc = grey.cols / opt.patch;
  BIQA_CHECK(pr >= 1 && pc >= 1, ErrorCode::invalid_argument, "NIQE needs an image of at least ",
             opt.patch, "×", opt.patch, " pixels, got ", grey.rows, "×", grey.cols);
  nss::Plane crop(pr * opt.patch, pc * opt.patch);
  for (int r = 0; r < crop.rows; ++r)
    for (int c = 0; c < crop.cols; ++c) crop(r, c) = grey(r, c);
  const nss::Plane half = nss::resize_cubic(crop, crop.rows / 2, crop.cols / 2);
  const nss::Plane m1 = nss::mscn(crop), m2 = nss::mscn(half);
  const nss::Plane mu1 = nss::gaussian_blur7(crop);
  NiqePatches out;
  out.features.resize(pr * pc, niqe_feature_count);
  std::vector<double> f;
  for (int i = 0; i < pr; ++i)
    for (int j = 0; j < pc; ++j) {
      f.clear();
      niqe_detail::patch_features(m1, i * opt.patch, j * opt.patch, opt.patch, f);
      niqe_detail::patch_features(m2, i * opt.patch / 2, j * opt.patch / 2, opt.patch / 2, f);
      for (int k = 0; k < niqe_feature_count; ++k) out.features(i * pc + j, k) = f[std::size_t(k)];
      out.sharpness.push_back(niqe_detail::patch_sharpness(crop, mu1, i * opt.patch, j * opt.patch, opt.patch));
    }
  return out;
}

class Niqe final : public QualityModel {
 public:
  Niqe(Eigen::VectorXd mu, Eigen::MatrixXd cov, NiqeOptions opt = {}, std::map<std::string, std::string> meta = {})
      : mu_(std::move(mu)), cov_(std::move(cov)), opt_(opt), meta_(std::move(meta)) {
    BIQA_CHECK(mu_.size() == niqe_feature_count && cov_.rows() == niqe_feature_count &&
                   cov_.cols() == niqe_feature_count,
               ErrorCode::format, "NIQE model: expected mu [36] and cov [36, 36]");
  }

  /// Fits the pristine Gaussian on the sharpest patches of each image.
  static Niqe fit(const std::vector<Tensor<float>>& pristine, const NiqeOptions& opt = {},
                  std::map<std::string, std::string> meta = {}) {
    std::vector<Eigen::RowVectorXd> rows;
    for (const auto& img : pristine) {
      const NiqePatches p = niqe_patch_features(img, opt);
      const double mx = *std::max_element(p.sharpness.begin(), p.sharpness.end());
      for (Eigen::Index k = 0; k < p.features.rows(); ++k)
        if (p.sharpness[std::size_t(k)] > opt.sharpness_ratio * mx && p.features.row(k).allFinite())
          rows.push_back(p.features.row(k));
    }
    BIQA_CHECK(rows.size() >= 2, ErrorCode::invalid_argument, "NIQE fit: only ", rows.size(),
               " usable patches; give more or larger pristine images");
    Eigen::MatrixXd x(static_cast<Eigen::Index>(rows.size()), niqe_feature_count);
    for (std::size_t i = 0; i < rows.size(); ++i) x.row(static_cast<Eigen::Index>(i)) = rows[i];
    meta["patches"] = std::to_string(rows.size());
    meta["patch_size"] = std::to_string(opt.patch);
    meta["sharpness_ratio"] = std::to_string(opt.sharpness_ratio);
    return Niqe(x.colwise().mean().transpose(), covariance(x), opt, std::move(meta));
  }

  static Niqe load(const std::string& path) {
    const io::WeightFile wf = io::read_safetensors(path);
    const Tensor<float> mu = wf.to_float(wf.at("mu")), cov = wf.to_float(wf.at("cov"));
    BIQA_CHECK(mu.numel() == niqe_feature_count && cov.numel() == niqe_feature_count * niqe_feature_count,
               ErrorCode::key, path, ": expected mu [36] and cov [36, 36]");
    Eigen::VectorXd m(niqe_feature_count);
    Eigen::MatrixXd c(niqe_feature_count, niqe_feature_count);
    for (int i = 0; i < niqe_feature_count; ++i) m[i] = mu.data()[i];
    for (int i = 0; i < niqe_feature_count * niqe_feature_count; ++i)
      c(i / niqe_feature_count, i % niqe_feature_count) = cov.data()[i];
    NiqeOptions opt;
    if (auto it = wf.metadata.find("patch_size"); it != wf.metadata.end()) opt.patch = std::stoi(it->second);
    return Niqe(m, c, opt, wf.metadata);
  }

  void save(const std::string& path) const {
    Tensor<float> mu({niqe_feature_count}), cov({niqe_feature_count, niqe_feature_count});
    for (int i = 0; i < niqe_feature_count; ++i) mu.data()[i] = static_cast<float>(mu_[i]);
    for (int i = 0; i < niqe_feature_count * niqe_feature_count; ++i)
      cov.data()[i] = static_cast<float>(cov_(i / niqe_feature_count, i % niqe_feature_count));
    std::map<std::string, std::string> meta = meta_;
    meta["model"] = "niqe";
    io::write_safetensors(path, {io::make_blob("mu", mu), io::make_blob("cov", cov)}, meta);
  }

  static const ModelInfo& card() {
    static const ModelInfo info = [] {
      ModelInfo i;
      i.name = "niqe";
      i.full_name = "NIQE (Mittal, Soundararajan, Bovik 2013)";
      i.summary = "Distance between the MVG of a test image's NSS patch features and a pristine MVG";
      i.reference = "A. Mittal, R. Soundararajan, A. C. Bovik, Making a completely blind image "
                    "quality analyzer, IEEE SPL 20(3), 2013";
      i.lower_is_better = true;
      i.range_min = 0;
      i.range_max = 100;
      i.bounded = false;
      i.input_policy = "grey as BRISQUE; cropped to a multiple of 96; 96x96 patches at full and "
                       "bicubic-halved scale; no resize otherwise";
      i.training_data = "opinion-unaware: a pristine model fitted with `biqa fit-niqe` on sharp "
                        "patches of pristine photos (e.g. scripts/fetch_samples)";
      i.weights_licence = "the model file inherits nothing from the photos but statistics; "
                          "see its __metadata__";
      i.weights_source = "biqa fit-niqe DIR OUT.safetensors; then --weights OUT.safetensors "
                         "(or $BIQA_NIQE_MODEL)";
      i.needs_weights_file = true;
      return i;
    }();
    return info;
  }
  const ModelInfo& info() const override { return card(); }

  double score(const Tensor<float>& image, Context&) const override {
    const NiqePatches p = niqe_patch_features(image, opt_);
    Eigen::MatrixXd x = p.features;
    // Rows with a NaN (perfectly flat patch) carry no statistics.
    std::vector<Eigen::Index> keep;
    for (Eigen::Index k = 0; k < x.rows(); ++k)
      if (x.row(k).allFinite()) keep.push_back(k);
    BIQA_CHECK(!keep.empty(), ErrorCode::numeric, "NIQE: no patch with usable statistics");
    Eigen::MatrixXd y(static_cast<Eigen::Index>(keep.size()), niqe_feature_count);
    for (std::size_t i = 0; i < keep.size(); ++i) y.row(static_cast<Eigen::Index>(i)) = x.row(keep[i]);
    const Eigen::VectorXd mu2 = y.colwise().mean().transpose();
    const Eigen::MatrixXd cov2 = y.rows() > 1 ? covariance(y) : Eigen::MatrixXd::Zero(niqe_feature_count, niqe_feature_count);
    // A pristine model fitted on a few dozen patches is close to singular in 36 dimensions, so
    // the pooled covariance gets a small ridge relative to its own diagonal (the reference uses a
    // pseudo-inverse of a model fitted on thousands of patches).
    Eigen::MatrixXd pooled = (cov_ + cov2) / 2;
    pooled.diagonal() *= 1.0 + ridge;
    const Eigen::VectorXd d = mu_ - mu2;
    const Eigen::VectorXd solved = pooled.ldlt().solve(d);
    return std::sqrt(std::max(0.0, d.dot(solved)));
  }
  using QualityModel::score;

  static constexpr double ridge = 0.05;
  const Eigen::VectorXd& mu() const { return mu_; }
  const Eigen::MatrixXd& cov() const { return cov_; }

 private:
  static Eigen::MatrixXd covariance(const Eigen::MatrixXd& x) {
    const Eigen::MatrixXd c = x.rowwise() - x.colwise().mean();
    return (c.transpose() * c) / double(std::max<Eigen::Index>(1, x.rows() - 1));
  }
  Eigen::VectorXd mu_;
  Eigen::MatrixXd cov_;
  NiqeOptions opt_;
  std::map<std::string, std::string> meta_;
};

}  // namespace biqa::models
