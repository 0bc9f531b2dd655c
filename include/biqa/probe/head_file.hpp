#pragma once
/// @file
/// Heads as safetensors files, in PyTorch's nn.Linear layout (float32):
///   linear (ridge): "weight" [1, D], "bias" [1]                     == nn.Linear(D, 1)
///   mlp:            "fc1.weight" [H, D], "fc1.bias" [H],
///                   "fc2.weight" [1, H], "fc2.bias" [1]             == timm Mlp(D, H, 1, act=ReLU)
/// metadata: "biqa_head" = "linear" | "mlp", "activation" = "relu" (mlp), "in_features" = D.
/// Both apply to raw features (standardisation is folded in), so nn::Linear / nn::Mlp (with
/// Activation::relu) load them with WeightStore and score features directly.

#include <map>
#include <string>
#include <variant>

#include <Eigen/Dense>

#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/safetensors.hpp"
#include "biqa/io/weights.hpp"
#include "biqa/probe/mlp_head.hpp"
#include "biqa/probe/ridge.hpp"

namespace biqa::probe {

using Head = std::variant<LinearHead, MlpHead>;

inline Eigen::VectorXd predict(const Head& head, const MatrixXd& x) {
  return std::visit([&](const auto& h) { return Eigen::VectorXd(h.predict(x)); }, head);
}

namespace detail {

inline Tensor<float> to_tensor(const MatrixXd& m) {
  Tensor<float> t(Shape{m.rows(), m.cols()});
  for (Eigen::Index r = 0; r < m.rows(); ++r)
    for (Eigen::Index c = 0; c < m.cols(); ++c) t.data()[r * m.cols() + c] = float(m(r, c));
  return t;
}
inline Tensor<float> to_tensor(const Eigen::VectorXd& v) {
  Tensor<float> t(Shape{v.size()});
  for (Eigen::Index i = 0; i < v.size(); ++i) t.data()[i] = float(v(i));
  return t;
}

/// A tensor of the given rank as a matrix (a rank-1 tensor becomes one column).
inline MatrixXd read_matrix(const io::WeightFile& f, const std::string& name, int rank, const std::string& path) {
  const auto* r = f.find(name);
  BIQA_CHECK(r != nullptr, ErrorCode::key, path, ": head tensor '", name, "' is missing");
  const Tensor<float> t = f.to_float(*r);
  BIQA_CHECK(t.shape().rank() == rank, ErrorCode::key, path, ": head tensor '", name, "' has shape ",
             t.shape().to_string(), ", expected rank ", rank);
  const Eigen::Index rows = t.shape()[0], cols = rank == 2 ? t.shape()[1] : 1;
  MatrixXd m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = t.data()[i];
  return m;
}

inline void expect_shape(bool ok, const std::string& path, const char* what) {
  BIQA_CHECK(ok, ErrorCode::key, path, ": head tensors do not fit together: ", what);
}

}  // namespace detail

inline void save_head(const std::string& path, const Head& head) {
  std::vector<io::TensorBlob> blobs;
  std::map<std::string, std::string> meta;
  if (const auto* l = std::get_if<LinearHead>(&head)) {
    blobs.push_back(io::make_blob("weight", detail::to_tensor(MatrixXd(l->weight.transpose()))));
    blobs.push_back(io::make_blob("bias", detail::to_tensor(Eigen::VectorXd(Eigen::VectorXd::Constant(1, l->bias)))));
    meta = {{"biqa_head", "linear"}, {"in_features", std::to_string(l->weight.size())}};
  } else {
    const auto& m = std::get<MlpHead>(head);
    blobs.push_back(io::make_blob("fc1.weight", detail::to_tensor(m.w1)));
    blobs.push_back(io::make_blob("fc1.bias", detail::to_tensor(m.b1)));
    blobs.push_back(io::make_blob("fc2.weight", detail::to_tensor(MatrixXd(m.w2.transpose()))));
    blobs.push_back(io::make_blob("fc2.bias", detail::to_tensor(Eigen::VectorXd(Eigen::VectorXd::Constant(1, m.b2)))));
    meta = {{"biqa_head", "mlp"}, {"activation", "relu"}, {"in_features", std::to_string(m.w1.cols())}};
  }
  io::write_safetensors(path, blobs, meta);
}

/// Reads a head written by save_head (or any file with the same tensor names and shapes).
inline Head load_head(const std::string& path) {
  const io::WeightFile f = io::load_weights(path);
  if (f.find("fc1.weight")) {
    MlpHead m;
    m.w1 = detail::read_matrix(f, "fc1.weight", 2, path);
    m.b1 = detail::read_matrix(f, "fc1.bias", 1, path).col(0);
    const MatrixXd w2 = detail::read_matrix(f, "fc2.weight", 2, path);
    const MatrixXd b2 = detail::read_matrix(f, "fc2.bias", 1, path);
    detail::expect_shape(m.b1.size() == m.w1.rows(), path, "fc1.bias must have fc1.weight's row count");
    detail::expect_shape(w2.rows() == 1 && w2.cols() == m.w1.rows(), path, "fc2.weight must be [1, hidden]");
    detail::expect_shape(b2.size() == 1, path, "fc2.bias must be [1]");
    m.w2 = w2.row(0).transpose();
    m.b2 = b2(0, 0);
    return m;
  }
  LinearHead l;
  const MatrixXd w = detail::read_matrix(f, "weight", 2, path);
  const MatrixXd b = detail::read_matrix(f, "bias", 1, path);
  detail::expect_shape(w.rows() == 1, path, "weight must be [1, in_features]");
  detail::expect_shape(b.size() == 1, path, "bias must be [1]");
  l.weight = w.row(0).transpose();
  l.bias = b(0, 0);
  return l;
}

}  // namespace biqa::probe
