#pragma once
/// @file
/// A dataset as a list of records: which image (relative to the dataset root), its subjective
/// score, and what the readers know beyond that (score spread, reference content, distortion).

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace biqa::data {

struct Sample {
  std::string image;                // path relative to Dataset::root, '/'-separated
  double mos = 0;                   ///< the subjective score as the dataset publishes it (MOS or DMOS)
  std::optional<double> std;        ///< its standard deviation, when published
  std::string reference;            ///< content id: the pristine image it was made from (synthetic sets)
  std::string distortion;           ///< distortion type, as the dataset names or numbers it
  std::optional<int> level;         ///< distortion level
};

struct Dataset {
  std::string kind;                 // reader name, e.g. "kadid10k"
  std::string root;                 ///< folder the image paths are relative to
  std::vector<Sample> samples;
  bool higher_is_better = true;     ///< false for DMOS (LIVE, CSIQ): a larger score is a worse image
  bool synthetic = false;           ///< made from a few references: split by reference, not by image

  std::string path_of(const Sample& s) const { return (std::filesystem::path(root) / s.image).string(); }
  std::size_t size() const { return samples.size(); }
  bool has_references() const {
    for (const auto& s : samples)
      if (s.reference.empty()) return false;
    return !samples.empty();
  }
};

}  // namespace biqa::data
