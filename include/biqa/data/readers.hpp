#pragma once
/// @file
/// Readers for the MOS files of the common IQA datasets, as the authors distribute them (or, where
/// they ship MATLAB or Excel files, a documented CSV form). docs/datasets.md lists every file and
/// column. read_dataset(kind, options) picks the reader by name; "csv" is the generic form.
///
/// Readers only read score files: a missing image is reported when it is scored, not here.

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "biqa/core/error.hpp"
#include "biqa/data/csv.hpp"
#include "biqa/data/dataset.hpp"

namespace biqa::data {

struct ReadOptions {
  std::string root;                     ///< dataset folder
  std::string csv;                      // the score file; empty = the dataset's usual name under root
  /// Column overrides (generic "csv" kind: image_col and score_col are required).
  std::string image_col, score_col, ref_col, std_col;
  std::string image_dir;                // images' folder relative to root; empty = the dataset's default
  bool lower_is_better = false;         ///< generic kind: the score is a DMOS
};

namespace detail {

namespace fs = std::filesystem;

inline std::string join(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

inline std::string score_file(const ReadOptions& o, std::initializer_list<const char*> defaults) {
  if (!o.csv.empty()) return o.csv;
  std::string tried;
  for (const char* d : defaults) {
    const std::string p = (fs::path(o.root) / d).string();
    if (fs::exists(p)) return p;
    tried += (tried.empty() ? "" : ", ") + p;
  }
  fail(ErrorCode::io, "no score file found (tried ", tried, "); pass --csv FILE (see docs/datasets.md)");
}

/// The first of `dirs` that exists under root (or the override, or the first when none exists).
inline std::string image_dir(const ReadOptions& o, std::initializer_list<const char*> dirs) {
  if (!o.image_dir.empty()) return o.image_dir == "." ? "" : o.image_dir;
  for (const char* d : dirs)
    if (fs::is_directory(fs::path(o.root) / d)) return d;
  return *dirs.begin();
}

inline std::size_t column_or(const CsvTable& t, const std::string& override_name,
                             std::initializer_list<std::string_view> names, std::string_view what) {
  return override_name.empty() ? t.column(names, what) : t.column(override_name, what);
}

inline std::optional<int> to_int(std::string_view s) {
  int v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

/// "I01_02_03.png" -> {"I01", "02", 3}: the naming of KADID-10k and TID2013.
inline void parse_ref_type_level(const std::string& name, Sample& s) {
  const std::string stem = fs::path(name).stem().string();
  const auto a = stem.find('_'), b = stem.find('_', a == std::string::npos ? a : a + 1);
  if (a == std::string::npos || b == std::string::npos) return;
  if (s.reference.empty()) s.reference = stem.substr(0, a);
  s.distortion = stem.substr(a + 1, b - a - 1);
  s.level = to_int(stem.substr(b + 1));
}

inline std::string upper(std::string s) {
  for (auto& c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
  return s;
}
inline std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// The name as it is on disk when only its case differs (TID2013's list says "i01_..." where some
/// copies hold "I01_..."); unchanged when neither exists.
inline std::string resolve_case(const std::string& root, const std::string& dir, const std::string& name) {
  for (const auto& candidate : {name, lower(name), upper(fs::path(name).stem().string()) + fs::path(name).extension().string(),
                                upper(name)})
    if (fs::exists(fs::path(root) / join(dir, candidate))) return candidate;
  return name;
}

}  // namespace detail

inline Sample make_sample(std::string image, double mos) {
  Sample s;
  s.image = std::move(image);
  s.mos = mos;
  return s;
}

/// KonIQ-10k: koniq10k_scores_and_distributions.csv (image_name, c1..c5, c_total, MOS, SD,
/// MOS_zscore); images in 1024x768/ (or 512x384/). Score: MOS (1-5), std: SD.
inline Dataset read_koniq10k(const ReadOptions& o) {
  const auto t = read_csv(detail::score_file(o, {"koniq10k_scores_and_distributions.csv"}));
  const auto ci = detail::column_or(t, o.image_col, {"image_name"}, "image");
  const auto cs = detail::column_or(t, o.score_col, {"MOS"}, "score");
  const auto csd = t.find({o.std_col.empty() ? std::string_view("SD") : std::string_view(o.std_col)});
  const auto dir = detail::image_dir(o, {"1024x768", "512x384"});
  Dataset d{"koniq10k", o.root, {}, true, false};
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    Sample s = make_sample(detail::join(dir, t.field(r, ci)), t.number(r, cs));
    if (csd) s.std = t.number(r, *csd);
    d.samples.push_back(std::move(s));
  }
  return d;
}

/// A header CSV with an image column and a score column (CLIVE, SPAQ, FLIVE and the generic form).
inline Dataset read_image_score_csv(const std::string& kind, const std::string& path, const ReadOptions& o,
                                    std::initializer_list<std::string_view> image_names,
                                    std::initializer_list<std::string_view> score_names, const std::string& dir) {
  const auto t = read_csv(path);
  const auto ci = detail::column_or(t, o.image_col, image_names, "image");
  const auto cs = detail::column_or(t, o.score_col, score_names, "score");
  std::optional<std::size_t> cr, csd;
  if (!o.ref_col.empty()) cr = t.column(o.ref_col, "reference");
  csd = o.std_col.empty() ? t.find({"std", "SD", "mos_std", "MOS_std"}) : std::optional(t.column(o.std_col, "std"));
  Dataset d{kind, o.root, {}, !o.lower_is_better, false};
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    Sample s = make_sample(detail::join(dir, t.field(r, ci)), t.number(r, cs));
    if (csd) s.std = t.number(r, *csd);
    if (cr) s.reference = t.field(r, *cr);
    d.samples.push_back(std::move(s));
  }
  if (cr) d.synthetic = true;
  return d;
}

/// LIVE Challenge (CLIVE): clive.csv converted from AllImages_release.mat / AllMOS_release.mat
/// (columns image, mos; the 7 trial images t1..t7 left out), or a .txt with "NAME MOS" per line;
/// images in Images/.
inline Dataset read_clive(const ReadOptions& o) {
  const auto path = detail::score_file(o, {"clive.csv", "clive.txt"});
  const auto dir = detail::image_dir(o, {"Images"});
  if (std::filesystem::path(path).extension() != ".txt")
    return read_image_score_csv("clive", path, o, {"image", "image_name", "img_name", "name"}, {"mos", "MOS"}, dir);
  Dataset d{"clive", o.root, {}, true, false};
  for (const auto& line : read_lines(path)) {
    auto f = line.text.find(',') != std::string::npos ? split_record(line.text) : split_whitespace(line.text);
    const std::string where = cat(path, ":", line.number);
    if (f.size() < 2) fail(ErrorCode::format, where, ": expected 'NAME MOS', got '", line.text, "'");
    d.samples.push_back(make_sample(detail::join(dir, f[0]), to_number(f[1], where, "mos")));
  }
  return d;
}

/// SPAQ: "MOS and Image attribute scores.csv" saved from the xlsx of the same name (columns
/// "Image name", MOS, Brightness, Colorfulness, Contrast, Noisiness, Sharpness); images in TestImage/.
inline Dataset read_spaq(const ReadOptions& o) {
  const auto path = detail::score_file(
      o, {"Annotations/MOS and Image attribute scores.csv", "MOS and Image attribute scores.csv", "spaq.csv"});
  return read_image_score_csv("spaq", path, o, {"Image name", "Image_name", "image_name", "image"}, {"MOS", "mos"},
                              detail::image_dir(o, {"TestImage"}));
}

/// FLIVE (PaQ-2-PiQ): labels_image.csv (name, mos, ...); images under database/ (name includes
/// the sub-folder, e.g. "voc_emotic_ava/AVA__149.jpg").
inline Dataset read_flive(const ReadOptions& o) {
  const auto path = detail::score_file(o, {"labels_image.csv"});
  return read_image_score_csv("flive", path, o, {"name", "name_image"}, {"mos", "mos_image"},
                              detail::image_dir(o, {"database"}));
}

/// KADID-10k: dmos.csv (dist_img, ref_img, dmos, var); images in images/. Despite the name, dmos
/// is a MOS on 1..5 (higher is better); std = sqrt(var).
inline Dataset read_kadid10k(const ReadOptions& o) {
  const auto t = read_csv(detail::score_file(o, {"dmos.csv"}));
  const auto ci = detail::column_or(t, o.image_col, {"dist_img"}, "image");
  const auto cr = detail::column_or(t, o.ref_col, {"ref_img"}, "reference");
  const auto cs = detail::column_or(t, o.score_col, {"dmos"}, "score");
  const auto cv = t.find({"var"});
  const auto dir = detail::image_dir(o, {"images"});
  Dataset d{"kadid10k", o.root, {}, true, true};
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    Sample s = make_sample(detail::join(dir, t.field(r, ci)), t.number(r, cs));
    s.reference = std::filesystem::path(t.field(r, cr)).stem().string();
    if (cv) s.std = std::sqrt(std::max(0.0, t.number(r, *cv)));
    detail::parse_ref_type_level(t.field(r, ci), s);
    d.samples.push_back(std::move(s));
  }
  return d;
}

/// TID2013: mos_with_names.txt, "MOS NAME" per line (e.g. "5.51429 i01_01_1.bmp"); optional
/// mos_std.txt beside it (one value per line, same order); images in distorted_images/.
inline Dataset read_tid2013(const ReadOptions& o) {
  const auto path = detail::score_file(o, {"mos_with_names.txt"});
  const auto dir = detail::image_dir(o, {"distorted_images"});
  const auto std_path = (std::filesystem::path(path).parent_path() / "mos_std.txt").string();
  std::vector<double> stds;
  if (std::filesystem::exists(std_path)) stds = read_number_column(std_path);
  Dataset d{"tid2013", o.root, {}, true, true};
  const auto lines = read_lines(path);
  for (const auto& line : lines) {
    const auto f = split_whitespace(line.text);
    const std::string where = cat(path, ":", line.number);
    if (f.size() != 2) fail(ErrorCode::format, where, ": expected 'MOS NAME', got '", line.text, "'");
    Sample s = make_sample(detail::join(dir, detail::resolve_case(o.root, dir, f[1])), to_number(f[0], where, "mos"));
    detail::parse_ref_type_level(f[1], s);
    s.reference = detail::upper(s.reference);
    d.samples.push_back(std::move(s));
  }
  if (!stds.empty()) {
    if (stds.size() != d.samples.size())
      fail(ErrorCode::format, std_path, ": has ", stds.size(), " values but ", path, " has ", d.samples.size(), " images");
    for (std::size_t i = 0; i < stds.size(); ++i) d.samples[i].std = stds[i];
  }
  return d;
}

/// CSIQ: csiq.csv saved from the "all_by_image" sheet of csiq.DMOS.xlsx (columns image, dst_idx,
/// dst_type, dst_lev, dmos_std, dmos); the image is dst_imgs/FOLDER/IMAGE.TAG.LEVEL.png with
/// FOLDER and TAG from dst_type and LEVEL = dst_lev, or taken from a "path" column when there is
/// one. DMOS in [0, 1].
inline Dataset read_csiq(const ReadOptions& o) {
  const auto t = read_csv(detail::score_file(o, {"csiq.csv"}));
  const auto cs = detail::column_or(t, o.score_col, {"dmos"}, "score");
  const auto cstd = t.find({"dmos_std"});
  const auto cpath = o.image_col.empty() ? t.find({"path"}) : std::optional(t.column(o.image_col, "image"));
  const auto cimg = t.column({"image"}, "image (reference name)");
  std::optional<std::size_t> ctype, clev;
  ctype = t.find({"dst_type"});
  clev = t.find({"dst_lev"});
  if (!cpath) {
    ctype = t.column({"dst_type"}, "distortion type");
    clev = t.column({"dst_lev"}, "distortion level");
  }
  const auto dir = detail::image_dir(o, {"dst_imgs"});
  Dataset d{"csiq", o.root, {}, false, true};
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    Sample s;
    s.mos = t.number(r, cs);
    if (cstd) s.std = t.number(r, *cstd);
    s.reference = t.field(r, cimg);
    if (ctype) s.distortion = t.field(r, *ctype);
    if (clev) s.level = detail::to_int(t.field(r, *clev));
    if (cpath) {
      s.image = t.field(r, *cpath);
    } else {
      // dst_type as written in the sheet -> (folder, tag in the file name).
      const std::string type = detail::lower(s.distortion);
      std::string folder, tag;
      if (type == "noise" || type == "awgn") folder = "awgn", tag = "AWGN";
      else if (type == "jpeg") folder = "jpeg", tag = "JPEG";
      else if (type == "jpeg 2000" || type == "jpeg2000") folder = "jpeg2000", tag = "jpeg2000";
      else if (type == "f noise" || type == "fnoise") folder = "fnoise", tag = "fnoise";
      else if (type == "blur") folder = "blur", tag = "BLUR";
      else if (type == "contrast") folder = "contrast", tag = "contrast";
      else
        fail(ErrorCode::format, t.where(r), ": unknown dst_type '", s.distortion,
             "' (expected noise, jpeg, jpeg 2000, f noise, blur or contrast; or add a path column)");
      if (!s.level) fail(ErrorCode::format, t.where(r), ": dst_lev '", t.field(r, *clev), "' is not an integer");
      s.image = detail::join(dir, folder + "/" + s.reference + "." + tag + "." + std::to_string(*s.level) + ".png");
    }
    d.samples.push_back(std::move(s));
  }
  return d;
}

/// LIVE (release 2): live.csv converted from dmos_realigned.mat and refnames_all.mat (columns
/// image such as "jp2k/img1.bmp", ref, dmos; optional type and orgs, rows with orgs = 1 — the
/// references themselves — are skipped). DMOS, lower is better.
inline Dataset read_live(const ReadOptions& o) {
  const auto t = read_csv(detail::score_file(o, {"live.csv"}));
  const auto ci = detail::column_or(t, o.image_col, {"image"}, "image");
  const auto cr = detail::column_or(t, o.ref_col, {"ref", "refname"}, "reference");
  const auto cs = detail::column_or(t, o.score_col, {"dmos"}, "score");
  const auto ct = t.find({"type"});
  const auto corg = t.find({"orgs"});
  const auto cstd = t.find({"dmos_std", "std"});
  Dataset d{"live", o.root, {}, false, true};
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    if (corg && t.number(r, *corg) != 0) continue;
    Sample s = make_sample(t.field(r, ci), t.number(r, cs));
    s.reference = std::filesystem::path(t.field(r, cr)).stem().string();
    if (ct) s.distortion = t.field(r, *ct);
    else if (auto slash = s.image.find('/'); slash != std::string::npos) s.distortion = s.image.substr(0, slash);
    if (cstd) s.std = t.number(r, *cstd);
    d.samples.push_back(std::move(s));
  }
  return d;
}

/// PIPAL: label files with one "NAME,ELO" per line (e.g. "A0001_00_00.bmp,1474.97"): every *.txt
/// in Train_Label/ (or the one --csv file); images in Train_Dist/ (or Distortion/, Dis/).
/// Reference = the name up to the first '_'.
inline Dataset read_pipal(const ReadOptions& o) {
  std::vector<std::string> files;
  if (!o.csv.empty()) {
    files.push_back(o.csv);
  } else {
    const auto label_dir = std::filesystem::path(o.root) / "Train_Label";
    BIQA_CHECK(std::filesystem::is_directory(label_dir), ErrorCode::io, "pipal: no folder ", label_dir.string(),
               "; pass --csv LABEL_FILE (see docs/datasets.md)");
    for (const auto& e : std::filesystem::directory_iterator(label_dir))
      if (e.path().extension() == ".txt") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    BIQA_CHECK(!files.empty(), ErrorCode::io, "pipal: no .txt label files in ", label_dir.string());
  }
  const auto dir = detail::image_dir(o, {"Train_Dist", "Distortion", "Dis"});
  Dataset d{"pipal", o.root, {}, true, true};
  for (const auto& path : files) {
    for (const auto& line : read_lines(path)) {
      const auto f = split_record(line.text);
      const std::string where = cat(path, ":", line.number);
      if (f.size() < 2) fail(ErrorCode::format, where, ": expected 'NAME,SCORE', got '", line.text, "'");
      Sample s = make_sample(detail::join(dir, f[0]), to_number(f[1], where, "score"));
      const std::string stem = std::filesystem::path(f[0]).stem().string();
      s.reference = stem.substr(0, stem.find('_'));
      const auto a = stem.find('_');
      if (a != std::string::npos) s.distortion = stem.substr(a + 1, stem.find('_', a + 1) - a - 1);
      d.samples.push_back(std::move(s));
    }
  }
  return d;
}

/// Generic: --csv FILE --image-col NAME --score-col NAME [--ref-col NAME] [--std-col NAME].
inline Dataset read_generic_csv(const ReadOptions& o) {
  BIQA_CHECK(!o.csv.empty(), ErrorCode::invalid_argument, "dataset csv: --csv FILE is required");
  BIQA_CHECK(!o.image_col.empty() && !o.score_col.empty(), ErrorCode::invalid_argument,
             "dataset csv: --image-col NAME and --score-col NAME are required");
  return read_image_score_csv("csv", o.csv, o, {}, {}, o.image_dir == "." ? "" : o.image_dir);
}

inline const std::vector<std::string>& dataset_kinds() {
  static const std::vector<std::string> kinds = {"koniq10k", "clive", "spaq",  "kadid10k", "tid2013",
                                                 "csiq",     "live",  "flive", "pipal",    "csv"};
  return kinds;
}

/// Reads a dataset by kind (aliases: koniq, livec, kadid, tid).
inline Dataset read_dataset(std::string kind, const ReadOptions& o) {
  kind = detail::lower(kind);
  if (kind != "csv")
    BIQA_CHECK(!o.root.empty(), ErrorCode::invalid_argument, "dataset ", kind, ": --root DIR is required");
  if (kind == "koniq10k" || kind == "koniq") return read_koniq10k(o);
  if (kind == "clive" || kind == "livec" || kind == "live_challenge") return read_clive(o);
  if (kind == "spaq") return read_spaq(o);
  if (kind == "kadid10k" || kind == "kadid") return read_kadid10k(o);
  if (kind == "tid2013" || kind == "tid") return read_tid2013(o);
  if (kind == "csiq") return read_csiq(o);
  if (kind == "live") return read_live(o);
  if (kind == "flive") return read_flive(o);
  if (kind == "pipal") return read_pipal(o);
  if (kind == "csv") {
    Dataset d = read_generic_csv(o);
    if (d.root.empty()) d.root = ".";
    return d;
  }
  std::string known;
  for (const auto& k : dataset_kinds()) known += (known.empty() ? "" : ", ") + k;
  fail(ErrorCode::invalid_argument, "unknown dataset kind '", kind, "' (known: ", known, ")");
}

}  // namespace biqa::data
