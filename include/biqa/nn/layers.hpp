#pragma once
/// @file
/// The basic layers, namespace biqa::nn. Every layer follows one contract:
///  - a Config struct (defaults as PyTorch/timm) and a constructor taking it;
///  - load(io::WeightStore::Scope) takes exactly the keys of the PyTorch module's state_dict, with
///    the same names and shapes; the store lists every missing, mis-shaped or unexpected key at
///    WeightStore::finish();
///  - forward(x, Context&) is const: a loaded layer is immutable and can be shared by threads that
///    each bring their own Context.

#include "biqa/nn/attention.hpp"
#include "biqa/nn/batch_norm.hpp"
#include "biqa/nn/conv2d.hpp"
#include "biqa/nn/conv_transpose2d.hpp"
#include "biqa/nn/group_norm.hpp"
#include "biqa/nn/layer_norm.hpp"
#include "biqa/nn/layer_scale.hpp"
#include "biqa/nn/linear.hpp"
#include "biqa/nn/mlp.hpp"
#include "biqa/nn/multihead_attention.hpp"
#include "biqa/nn/patch_embed.hpp"
#include "biqa/nn/rms_norm.hpp"
#include "biqa/nn/transformer_block.hpp"
