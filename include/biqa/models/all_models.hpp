#pragma once
/// @file
/// Every model of the library, registered by name: biqa::load_model / list_models / model_info see
/// them all. Including a single `models/<name>_scorer.hpp` registers that model alone, which keeps a
/// program that needs one model quick to compile.

#include "biqa/models/registry.hpp"  // brisque, niqe

#include "biqa/models/dgiqa_scorer.hpp"
#include "biqa/models/dr_experts_scorer.hpp"
#include "biqa/models/dsmix_scorer.hpp"
#include "biqa/models/exiqa_scorer.hpp"
