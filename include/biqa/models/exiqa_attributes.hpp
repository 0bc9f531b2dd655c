#pragma once
/// @file
/// models::ExiqaAttributes: the distortion attributes ExIQA prompts CLIP with (spec exiqa.md).
/// For every distortion, K visual effects written as noun phrases that complete the prompts
///   positive: "There is <attribute> in the photo."
///   negative: "There is not <attribute> in the photo."
/// biqa's own list (builtin()) has 5 attributes for each of the 25 KADID-10k types, in the order and
/// with the names of distortions/registry.hpp. It describes what one sees, not how the distortion
/// is made, and was checked so that attributes of different distortions share few words
/// (tests/models/test_exiqa_attributes.cpp). An ExIQA checkpoint is trained against one list, so a
/// list can also come from a JSON file (from_file) or a checkpoint's "exiqa.attributes" metadata:
///   {"positive_template": "There is {} in the photo.", "negative_template": "There is not {} in the photo.",
///    "distortions": [{"name": "gaussian_blur", "attributes": ["...", ...]}, ...]}
/// The builtin list is kept equal to include/biqa/models/exiqa_attributes.json (a test compares
/// them), so the text can be read, diffed and edited as a data file.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "biqa/core/error.hpp"
#include "biqa/io/json.hpp"

namespace biqa::models {

struct ExiqaAttributes {
  std::string positive_template = "There is {} in the photo.";
  std::string negative_template = "There is not {} in the photo.";
  std::vector<std::string> distortions;               ///< D names
  std::vector<std::vector<std::string>> attributes;   ///< D lists of K attributes

  std::size_t num_distortions() const { return distortions.size(); }
  std::size_t per_distortion() const { return attributes.empty() ? 0 : attributes.front().size(); }
  std::size_t num_attributes() const { return num_distortions() * per_distortion(); }

  /// Attribute a = d·K + k, distortion-major (the order of the regressor's 125 inputs).
  const std::string& attribute(std::size_t a) const {
    return attributes.at(a / per_distortion()).at(a % per_distortion());
  }
  std::vector<std::string> positive_prompts() const { return prompts(positive_template); }
  std::vector<std::string> negative_prompts() const { return prompts(negative_template); }

  /// "There is {} in the photo." with {} replaced by `attribute`.
  static std::string fill(const std::string& tmpl, const std::string& attribute) {
    const auto at = tmpl.find("{}");
    return tmpl.substr(0, at) + attribute + tmpl.substr(at + 2);
  }

  static ExiqaAttributes from_json(const json::Value& j, const std::string& source) {
    const auto bad = [&source](const auto&... what) -> void {
      fail(ErrorCode::format, source, ": ExIQA attributes: ", what...);
    };
    if (!j.is_object()) bad("expected a JSON object");
    ExiqaAttributes out;
    for (auto [key, field] : {std::pair{"positive_template", &out.positive_template},
                              std::pair{"negative_template", &out.negative_template}}) {
      if (const auto* v = j.find(key)) {
        if (!v->is_string() || v->as_string().find("{}") == std::string::npos)
          bad(key, " must be a string with one {} for the attribute");
        *field = v->as_string();
      }
    }
    const auto* list = j.find("distortions");
    if (!list || !list->is_array() || list->as_array().empty()) bad("\"distortions\" must be a non-empty array");
    for (const auto& d : list->as_array()) {
      const auto* name = d.is_object() ? d.find("name") : nullptr;
      const auto* attrs = d.is_object() ? d.find("attributes") : nullptr;
      if (!name || !name->is_string() || !attrs || !attrs->is_array())
        bad("each distortion needs \"name\" (a string) and \"attributes\" (an array of strings)");
      std::vector<std::string> texts;
      for (const auto& a : attrs->as_array()) {
        if (!a.is_string() || a.as_string().empty()) bad(name->as_string(), ": attributes must be non-empty strings");
        texts.push_back(a.as_string());
      }
      if (texts.empty()) bad(name->as_string(), ": no attributes");
      if (!out.attributes.empty() && texts.size() != out.attributes.front().size())
        bad(name->as_string(), " has ", texts.size(), " attributes, ", out.distortions.front(), " has ",
            out.attributes.front().size(), " (every distortion needs the same number)");
      out.distortions.push_back(name->as_string());
      out.attributes.push_back(std::move(texts));
    }
    return out;
  }

  json::Value to_json() const {
    json::Value j;
    j.set("positive_template", positive_template);
    j.set("negative_template", negative_template);
    json::Array list;
    for (std::size_t d = 0; d < distortions.size(); ++d) {
      json::Value e;
      e.set("name", distortions[d]);
      json::Array a;
      for (const auto& t : attributes[d]) a.emplace_back(t);
      e.set("attributes", json::Value(std::move(a)));
      list.push_back(std::move(e));
    }
    j.set("distortions", json::Value(std::move(list)));
    return j;
  }

  static ExiqaAttributes from_file(const std::string& path) {
    return from_json(json::parse_file(path), path);
  }

  /// The text of include/biqa/models/exiqa_attributes.json.
  static std::string_view builtin_json() {
    return R"exiqa({
  "positive_template": "There is {} in the photo.",
  "negative_template": "There is not {} in the photo.",
  "distortions": [
    {
      "name": "gaussian_blur",
      "attributes": [
        "a soft, even blur over the whole picture",
        "a loss of fine texture and small details",
        "edges that fade gradually instead of ending sharply",
        "a hazy, out-of-focus look with no direction to it",
        "a general reduction in crispness"
      ]
    },
    {
      "name": "lens_blur",
      "attributes": [
        "small highlights spread into round discs",
        "the look of a lens focused at the wrong distance",
        "circular bokeh-like smears around bright points",
        "flat shapes with rounded, defocused outlines",
        "a strong defocus that turns textures into smooth patches"
      ]
    },
    {
      "name": "motion_blur",
      "attributes": [
        "streaks running in one direction",
        "objects smeared along a straight line",
        "doubled, trailing edges as if the camera moved",
        "detail kept across one direction but lost along the other",
        "a shaky, hand-held smear"
      ]
    },
    {
      "name": "color_diffusion",
      "attributes": [
        "colours bleeding past the edges of objects",
        "soft colour halos around sharp boundaries",
        "blurred colour while the brightness detail stays sharp",
        "tints that spread into neighbouring areas",
        "colour that does not stay inside the outlines"
      ]
    },
    {
      "name": "color_shift",
      "attributes": [
        "a coloured ghost outline beside objects",
        "misaligned colour channels like a misregistered print",
        "red or green fringes offset to one side of edges",
        "a shifted copy of the colour next to dark lines",
        "colour edges that do not line up with the shapes"
      ]
    },
    {
      "name": "color_quantization",
      "attributes": [
        "a reduced palette of colours",
        "visible bands of flat colour in smooth gradients",
        "abrupt steps between neighbouring colour shades",
        "a posterized, poster-like look",
        "blotchy patches of identical colour in the sky or on skin"
      ]
    },
    {
      "name": "color_saturation_1",
      "attributes": [
        "faded, muted colours",
        "a nearly grey, desaturated appearance",
        "a lack of vivid colour",
        "colours drained toward black and white",
        "a pale, colourless tint"
      ]
    },
    {
      "name": "color_saturation_2",
      "attributes": [
        "overly vivid, saturated colours",
        "unnaturally intense hues",
        "skin and foliage with exaggerated colour",
        "garish, neon-like colours",
        "clipped colour in strongly coloured areas"
      ]
    },
    {
      "name": "jpeg2000",
      "attributes": [
        "blurry ringing around edges",
        "wavy, smeared artifacts near sharp contours",
        "a watercolour-like loss of texture",
        "soft blotches in flat areas",
        "ripples along high-contrast lines"
      ]
    },
    {
      "name": "jpeg",
      "attributes": [
        "visible 8x8 square blocks",
        "blocky tiles in smooth regions",
        "mosquito noise around sharp edges",
        "staircase seams between compression blocks",
        "colour smearing in blocky chunks"
      ]
    },
    {
      "name": "white_noise",
      "attributes": [
        "fine grainy noise over the whole picture",
        "random speckles of light and dark",
        "a sandy texture in smooth areas",
        "a noisy, static-like overlay",
        "grain that hides fine details"
      ]
    },
    {
      "name": "white_noise_color_component",
      "attributes": [
        "random coloured speckles",
        "red, green and blue grain dots",
        "colourful noise in dark and flat areas",
        "chromatic grain that changes colour from pixel to pixel",
        "rainbow-coloured static"
      ]
    },
    {
      "name": "impulse_noise",
      "attributes": [
        "isolated black and white dots",
        "salt-and-pepper specks",
        "scattered single bright pixels",
        "dead-pixel dots sprinkled across the picture",
        "sparse, high-contrast pixel spots"
      ]
    },
    {
      "name": "multiplicative_noise",
      "attributes": [
        "grain that is stronger in bright areas than in shadows",
        "speckle noise over light surfaces",
        "a mottled texture on bright regions",
        "noise whose strength follows the brightness",
        "a rough, speckled look on highlights"
      ]
    },
    {
      "name": "denoise",
      "attributes": [
        "an over-smoothed, plastic look",
        "waxy surfaces with lost texture",
        "flat patches where fine detail was removed",
        "smudged, painterly areas",
        "leftover blotchy noise after smoothing"
      ]
    },
    {
      "name": "brighten",
      "attributes": [
        "an overly bright exposure",
        "washed-out highlights",
        "lifted shadows with little deep black",
        "a faded, overexposed look",
        "bright areas clipped to pure white"
      ]
    },
    {
      "name": "darken",
      "attributes": [
        "an underexposed, too dark picture",
        "lost detail in the shadows",
        "dim, murky colours",
        "large regions crushed to black",
        "a gloomy low-light look"
      ]
    },
    {
      "name": "mean_shift",
      "attributes": [
        "a uniform shift in overall brightness",
        "a picture that is evenly lighter or darker than normal",
        "blacks lifted to grey or whites pulled down to grey",
        "a global brightness offset with unchanged contrast",
        "all tones moved together in one direction"
      ]
    },
    {
      "name": "jitter",
      "attributes": [
        "pixels scrambled slightly out of place",
        "jagged, frayed edges",
        "a shimmering, broken texture along lines",
        "edges torn into small pieces",
        "a fine scattering of displaced pixels"
      ]
    },
    {
      "name": "non_eccentricity_patch",
      "attributes": [
        "small square patches copied to the wrong places",
        "misplaced tiles that break the continuity of objects",
        "out-of-place blocks of texture",
        "seams where small patches do not match their surroundings",
        "a patchwork of displaced squares"
      ]
    },
    {
      "name": "pixelate",
      "attributes": [
        "large square pixels",
        "a mosaic of coarse cells",
        "jagged stair-step outlines",
        "an enlarged low-resolution look",
        "blocky cells of uniform colour"
      ]
    },
    {
      "name": "quantization",
      "attributes": [
        "flat regions of constant brightness",
        "contour lines in smooth gradients",
        "hard steps in shading",
        "a reduced number of grey levels",
        "false contours on faces and skies"
      ]
    },
    {
      "name": "color_block",
      "attributes": [
        "solid coloured rectangles pasted on the picture",
        "random uniformly coloured blocks",
        "bright square patches that hide the content",
        "artificial coloured squares",
        "rectangular blobs of a single foreign colour"
      ]
    },
    {
      "name": "high_sharpen",
      "attributes": [
        "overly sharpened edges",
        "bright halos along contours",
        "a harsh, crunchy texture",
        "exaggerated fine detail and amplified grain",
        "white and dark outlines around objects"
      ]
    },
    {
      "name": "contrast_change",
      "attributes": [
        "a flat, low-contrast picture",
        "a narrow range between light and dark",
        "muddy midtones",
        "harsh contrast with deep darks and glaring lights",
        "a misty, foggy appearance"
      ]
    }
  ]
}
)exiqa";
  }

  static const ExiqaAttributes& builtin() {
    static const ExiqaAttributes a = from_json(json::parse(builtin_json(), "exiqa_attributes.json"), "exiqa_attributes.json");
    return a;
  }

 private:
  std::vector<std::string> prompts(const std::string& tmpl) const {
    std::vector<std::string> out;
    for (const auto& list : attributes)
      for (const auto& a : list) out.push_back(fill(tmpl, a));
    return out;
  }
};

}  // namespace biqa::models
