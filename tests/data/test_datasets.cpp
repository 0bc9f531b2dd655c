#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <string>

#include "biqa/data/readers.hpp"
#include "biqa/io/mapped_file.hpp"
#include "support/helpers.hpp"

using namespace biqa;

namespace {

data::Dataset read(const std::string& kind, data::ReadOptions o = {}) {
  o.root = test::data_path("datasets/" + kind);
  return data::read_dataset(kind, o);
}

void write_text(const std::string& path, const std::string& text) { io::write_file_bytes(path, text.data(), text.size()); }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("data: KonIQ-10k scores_and_distributions.csv (quoted header, CRLF)", "[data]") {
  const auto d = read("koniq10k");
  REQUIRE(d.size() == 3);
  CHECK(d.samples[0].image == "1024x768/10004473376.jpg");
  CHECK(d.samples[0].mos == 3.828571429);
  REQUIRE(d.samples[0].std);
  CHECK(*d.samples[0].std == 0.527278771);
  CHECK(d.samples[2].image == "1024x768/10007903636.jpg");
  CHECK(d.higher_is_better);
  CHECK_FALSE(d.synthetic);
  data::ReadOptions o;
  o.score_col = "MOS_zscore";
  CHECK(read("koniq10k", o).samples[1].mos == 68.99577416);
}

TEST_CASE("data: KADID-10k dmos.csv gives references, types and levels", "[data]") {
  const auto d = read("kadid10k");
  REQUIRE(d.size() == 6);
  CHECK(d.samples[0].image == "images/I01_01_01.png");
  CHECK(d.samples[0].reference == "I01");
  CHECK(d.samples[0].distortion == "01");
  CHECK(d.samples[0].level == 1);
  CHECK(d.samples[4].distortion == "25");
  CHECK(d.samples[4].level == 3);
  CHECK(d.samples[2].mos == 1.93);
  REQUIRE(d.samples[3].std);
  CHECK(*d.samples[3].std == Approx(0.6).epsilon(1e-12));
  CHECK(d.synthetic);
  CHECK(d.has_references());
}

TEST_CASE("data: TID2013 mos_with_names.txt and mos_std.txt", "[data]") {
  const auto d = read("tid2013");
  REQUIRE(d.size() == 5);
  CHECK(d.samples[0].image == "distorted_images/i01_01_1.bmp");
  CHECK(d.samples[0].mos == 5.51429);
  CHECK(d.samples[0].reference == "I01");
  CHECK(d.samples[3].distortion == "24");
  CHECK(d.samples[3].level == 5);
  CHECK(d.samples[4].reference == "I25");
  REQUIRE(d.samples[2].std);
  CHECK(*d.samples[2].std == 0.15945);
  CHECK(d.synthetic);
}

TEST_CASE("data: TID2013 file names resolve to the case on disk", "[data]") {
  test::TempDir dir;
  std::filesystem::create_directories(dir.path() / "distorted_images");
  write_text(dir.file("mos_with_names.txt"), "5.1 i25_01_1.bmp\n4.0 i01_01_1.bmp\n");
  write_text(dir.file("distorted_images/I25_01_1.bmp"), "x");
  data::ReadOptions o;
  o.root = dir.path().string();
  const auto d = data::read_dataset("tid2013", o);
  CHECK(d.samples[0].image == "distorted_images/I25_01_1.bmp");
  CHECK(d.samples[1].image == "distorted_images/i01_01_1.bmp");  // absent: left as listed
}

TEST_CASE("data: SPAQ CSV saved from the xlsx", "[data]") {
  const auto d = read("spaq");
  REQUIRE(d.size() == 3);
  CHECK(d.samples[1].image == "TestImage/00002.jpg");
  CHECK(d.samples[1].mos == 77.7);
  CHECK_FALSE(d.synthetic);
}

TEST_CASE("data: CLIVE as CSV and as TXT", "[data]") {
  const auto d = read("clive");
  REQUIRE(d.size() == 4);
  CHECK(d.samples[0].image == "Images/3.bmp");
  CHECK(d.samples[3].mos == 35.8863);
  data::ReadOptions o;
  o.csv = test::data_path("datasets/clive/clive.txt");
  const auto t = read("clive", o);
  REQUIRE(t.size() == 3);
  CHECK(t.samples[2].image == "Images/5.bmp");
  CHECK(t.samples[2].mos == 48.9366);
}

TEST_CASE("data: FLIVE labels_image.csv keeps the sub-folder", "[data]") {
  const auto d = read("flive");
  REQUIRE(d.size() == 3);
  CHECK(d.samples[0].image == "database/voc_emotic_ava/AVA__149.jpg");
  CHECK(d.samples[2].mos == 40.25);
}

TEST_CASE("data: CSIQ sheet rows map to dst_imgs paths", "[data]") {
  const auto d = read("csiq");
  REQUIRE(d.size() == 6);
  CHECK(d.samples[0].image == "dst_imgs/awgn/1600.AWGN.1.png");
  CHECK(d.samples[1].image == "dst_imgs/jpeg/1600.JPEG.3.png");
  CHECK(d.samples[2].image == "dst_imgs/jpeg2000/1600.jpeg2000.5.png");
  CHECK(d.samples[3].image == "dst_imgs/fnoise/aerial_city.fnoise.2.png");
  CHECK(d.samples[4].image == "dst_imgs/blur/aerial_city.BLUR.4.png");
  CHECK(d.samples[5].image == "dst_imgs/contrast/aerial_city.contrast.1.png");
  CHECK(d.samples[2].mos == 0.72);
  CHECK(*d.samples[2].std == 0.12);
  CHECK(d.samples[3].reference == "aerial_city");
  CHECK_FALSE(d.higher_is_better);
  CHECK(d.synthetic);
}

TEST_CASE("data: LIVE CSV skips the reference rows", "[data]") {
  const auto d = read("live");
  REQUIRE(d.size() == 3);
  CHECK(d.samples[0].image == "jp2k/img1.bmp");
  CHECK(d.samples[0].reference == "coinsinfountain");
  CHECK(d.samples[2].reference == "ocean");
  CHECK(d.samples[1].distortion == "jpeg");
  CHECK_FALSE(d.higher_is_better);
}

TEST_CASE("data: PIPAL label files, all of Train_Label in name order", "[data]") {
  const auto d = read("pipal");
  REQUIRE(d.size() == 5);
  CHECK(d.samples[0].image == "Train_Dist/A0001_00_00.bmp");
  CHECK(d.samples[0].mos == 1474.9718);
  CHECK(d.samples[4].reference == "A0002");
  CHECK(d.samples[1].distortion == "01");
  CHECK(d.synthetic);
}

TEST_CASE("data: the generic csv form", "[data]") {
  test::TempDir dir;
  write_text(dir.file("list.csv"), "file,score,content\na.png,1.5,x\nb.png,2.5,y\n");
  data::ReadOptions o;
  o.root = dir.path().string();
  o.csv = dir.file("list.csv");
  o.image_col = "file";
  o.score_col = "score";
  o.ref_col = "content";
  const auto d = data::read_dataset("csv", o);
  REQUIRE(d.size() == 2);
  CHECK(d.samples[1].image == "b.png");
  CHECK(d.samples[1].reference == "y");
  CHECK(d.synthetic);  // a reference column makes reference-disjoint splits the default

  o.score_col = "quality";
  const auto msg = error_of([&] { data::read_dataset("csv", o); });
  CHECK_THAT(msg, Catch::Contains("'quality'") && Catch::Contains("'file', 'score', 'content'"));
  o.score_col.clear();
  CHECK_THAT(error_of([&] { data::read_dataset("csv", o); }), Catch::Contains("--score-col"));
}

TEST_CASE("data: readable errors", "[data]") {
  test::TempDir dir;
  data::ReadOptions o;
  o.root = dir.path().string();
  CHECK_THAT(error_of([&] { data::read_dataset("kadid10k", o); }), Catch::Contains("dmos.csv") && Catch::Contains("--csv"));
  CHECK_THAT(error_of([&] { data::read_dataset("nope", o); }), Catch::Contains("unknown dataset kind 'nope'") && Catch::Contains("koniq10k"));
  write_text(dir.file("dmos.csv"), "dist_img,ref_img,score\nI01_01_01.png,I01.png,4.5\n");
  CHECK_THAT(error_of([&] { data::read_dataset("kadid10k", o); }), Catch::Contains("no score column") && Catch::Contains("'dmos'"));
  write_text(dir.file("dmos.csv"), "dist_img,ref_img,dmos,var\nI01_01_01.png,I01.png,four,0.1\n");
  CHECK_THAT(error_of([&] { data::read_dataset("kadid10k", o); }), Catch::Contains("dmos.csv:2") && Catch::Contains("'four'"));
  write_text(dir.file("mos_with_names.txt"), "5.1 i01_01_1.bmp extra\n");
  CHECK_THAT(error_of([&] { data::read_dataset("tid2013", o); }), Catch::Contains("mos_with_names.txt:1"));
}
