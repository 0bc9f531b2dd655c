#pragma once
/// @file
/// Umbrella header for the synthetic distortions (biqa::distortions).
#include "biqa/distortions/compose.hpp"
#include "biqa/distortions/dsm.hpp"
#include "biqa/distortions/dsmix.hpp"
#include "biqa/distortions/registry.hpp"
