// Report writers: JSON, CSV, the JET colormap, heatmap blending, outlines and result images.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "api/reports.h"
#include "io/heatmap.h"
#include "data/image_io.h"
#include "core/files.h"
#include "io/json.h"
#include "eval/metrics.h"
#include "io/html_report.h"
#include "io/report.h"
#include "test_util.h"

using namespace stfpm;
namespace fs = std::filesystem;

namespace {

std::string slurp(const std::string& path) { return test::read_text(path); }

// A path whose parent folder cannot exist: a regular file is in the way (root can write anywhere, so permissions
// cannot be used to make a folder unwritable in tests).
std::string blocked_path(const std::string& dir, const std::string& leaf) {
  std::ofstream(dir + "/blocker") << "x";
  return dir + "/blocker/sub/" + leaf;
}

}  // namespace

TEST_CASE("json: pretty printing, insertion order, escaping, NaN/Inf as null", "[report][json]") {
  Json doc = Json::object();
  doc["category"] = "bottle";
  doc["pixel_auroc"] = 0.986;
  doc["image_auroc"] = NAN;
  doc["n_images"] = 83;
  doc["big"] = int64_t(9007199254740993);
  doc["strict"] = true;
  doc["text"] = std::string("a\"b\\c\nd\te\x01");
  doc["curve"] = std::vector<double>{0.0, 0.5, INFINITY, -1e-7};
  doc["levels"] = Json::array({Json{{"name", "layer1"}}, nullptr, Json::array()});
  doc["category"] = "carpet";  // replaces in place, keeps the first position

  const std::string expected =
      "{\n"
      "  \"category\": \"carpet\",\n"
      "  \"pixel_auroc\": 0.986,\n"
      "  \"image_auroc\": null,\n"
      "  \"n_images\": 83,\n"
      "  \"big\": 9007199254740993,\n"
      "  \"strict\": true,\n"
      "  \"text\": \"a\\\"b\\\\c\\nd\\te\\u0001\",\n"
      "  \"curve\": [\n"
      "    0.0,\n"
      "    0.5,\n"
      "    null,\n"
      "    -1e-07\n"
      "  ],\n"
      "  \"levels\": [\n"
      "    {\n"
      "      \"name\": \"layer1\"\n"
      "    },\n"
      "    null,\n"
      "    []\n"
      "  ]\n"
      "}";
  CHECK(doc.dump(2) == expected);
  CHECK(doc.dump() ==
        "{\"category\":\"carpet\",\"pixel_auroc\":0.986,\"image_auroc\":null,\"n_images\":83,"
        "\"big\":9007199254740993,\"strict\":true,\"text\":\"a\\\"b\\\\c\\nd\\te\\u0001\","
        "\"curve\":[0.0,0.5,null,-1e-07],\"levels\":[{\"name\":\"layer1\"},null,[]]}");
  CHECK(doc["n_images"].is_number_integer());
  CHECK(doc.find("missing") == doc.end());
  CHECK(doc.size() == 9);
  // Shortest round-trip text, never more digits than needed, and doubles that really need 17 digits keep them.
  CHECK(Json(0.1).dump() == "0.1");
  CHECK(Json(1.0 / 3.0).dump() == "0.3333333333333333");
  CHECK(std::stod(Json(0.9863423456789012).dump()) == 0.9863423456789012);
  CHECK(Json(-INFINITY).dump() == "null");
  CHECK(Json(json_float(0.1f)).dump() == "0.1");  // a float prints as the float it is, not as its double expansion
  CHECK(Json(double(0.1f)).dump() == "0.10000000149011612");
  CHECK(Json(json_float(NAN)).dump() == "null");
  CHECK(json_float(1e-30f) == 1e-30);
}

TEST_CASE("json: written atomically, an unwritable folder names the path", "[report][json][bad-input]") {
  const test::TempDir tmp("report_json");
  const std::string dir = tmp.path.string();
  const Json doc = {{"x", 1.5}};
  write_json_file(dir + "/metrics.json", doc);
  CHECK(slurp(dir + "/metrics.json") == "{\n  \"x\": 1.5\n}\n");
  CHECK_FALSE(fs::exists(dir + "/metrics.json.tmp"));
  CHECK_THROWS_WITH(write_json_file(dir + "/missing/metrics.json", doc),
                    Catch::Contains("cannot write " + dir + "/missing/metrics.json"));
  const std::string blocked = blocked_path(dir, "metrics.json");
  CHECK_THROWS_WITH(create_parent_dirs(blocked), Catch::Contains(blocked) && Catch::Contains("cannot create folder"));
}

TEST_CASE("csv: per-image results with quoting", "[report][csv]") {
  const test::TempDir tmp("report_csv");
  const std::string dir = tmp.path.string();
  CHECK(csv_field("plain") == "plain");
  CHECK(csv_field("a,b") == "\"a,b\"");
  CHECK(csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(csv_field("two\nlines") == "\"two\nlines\"");
  CHECK(csv_float(0.1f) == "0.1");
  CHECK(csv_float(NAN) == "nan");
  CHECK(csv_float(-INFINITY) == "-inf");

  const std::vector<ImageResult> rows = {{"data/bottle/test/good/000.png", "good", 0, 0.25f, false, 0.125f},
                                         {"data/a,b/test/broken_large/001.png", "broken_large", 1, 1.5e-3f, true}};
  write_image_results_csv(dir + "/scores.csv", rows);
  CHECK(slurp(dir + "/scores.csv") ==
        "path,defect_type,label,score,predicted,normalized_score\n"
        "data/bottle/test/good/000.png,good,0,0.25,0,0.125\n"
        "\"data/a,b/test/broken_large/001.png\",broken_large,1,0.0015,1,nan\n");
  CHECK_THROWS_AS(write_csv(dir + "/bad.csv", {"a", "b"}, {{"1"}}), std::invalid_argument);
  CHECK_THROWS_WITH(write_image_results_csv(dir + "/nope/scores.csv", rows),
                    Catch::Contains(dir + "/nope/scores.csv"));
  CHECK(result_image_path("res", "bottle", "broken_small", "003") == "res/bottle/images/broken_small/003.png");
  CHECK(file_stem("/d/test/broken_large/000.png") == "000");
  CHECK(file_stem("archive.tar.gz") == "archive.tar");
}

TEST_CASE("normalized scores: 0.5 at the threshold, scaled by the test score range, clamped to [0, 1]",
          "[report]") {
  // anomalib's min-max normalization: (score - threshold) / (max - min) + 0.5.
  CHECK(normalized_score(3.0, 3.0, 1.0, 5.0) == 0.5);
  CHECK(normalized_score(4.0, 3.0, 1.0, 5.0) == 0.75);
  CHECK(normalized_score(1.0, 3.0, 1.0, 5.0) == 0.0);
  CHECK(normalized_score(2.0, 2.5, 1.0, 5.0) == 0.375);
  CHECK(normalized_score(9.0, 3.0, 1.0, 5.0) == 1.0);   // beyond the range: clamped
  CHECK(normalized_score(-9.0, 3.0, 1.0, 5.0) == 0.0);
  CHECK(std::isnan(normalized_score(3.0, NAN, 1.0, 5.0)));  // no threshold
  CHECK(std::isnan(normalized_score(3.0, 3.0, NAN, NAN)));  // no range (an older thresholds.h5)
  CHECK(std::isnan(normalized_score(3.0, 3.0, 2.0, 2.0)));  // an empty range
  // --normalized_colors: a pixel's place on the colour scale is its normalized score.
  const HeatRange shared{0.0f, 7.0f};
  const HeatRange r = normalized_heat_range(3.0, 1.0, 5.0, shared);
  CHECK(r.lo == 1.0f);
  CHECK(r.hi == 5.0f);
  for (const float v : {1.5f, 3.0f, 4.0f})
    CHECK(double(v - r.lo) / double(r.hi - r.lo) == normalized_score(v, 3.0, 1.0, 5.0));
  CHECK(normalized_heat_range(2.0, 1.0, 5.0, shared).lo == 0.0f);  // 2 - (5 - 1) / 2
  CHECK(normalized_heat_range(NAN, 1.0, 5.0, shared).hi == 7.0f);  // no threshold: the shared range
  CHECK(normalized_heat_range(3.0, 2.0, 2.0, shared).hi == 7.0f);
}

TEST_CASE("jet: equals OpenCV's COLORMAP_JET table", "[report][heatmap]") {
  // OpenCV samples the piecewise-linear jet at x = i/255 (r = min(4x - 1.5, 4.5 - 4x), g = min(4x - 0.5,
  // 3.5 - 4x), b = min(4x + 0.5, 2.5 - 4x), clipped to [0, 1]) and rounds 255 * value half to even. In units of
  // 1/255: r = 4i - 382.5 / 1147.5 - 4i, g = 4i - 127.5 / 892.5 - 4i, b = 4i + 127.5 / 637.5 - 4i. Exact halves
  // such as 1.5 would round to 2, but OpenCV's float interpolation lands index 159's blue just below 1.5, so its
  // table (cv2.applyColorMap, OpenCV 4.6, all 256 entries checked) has 1 there. Values in RGB order.
  const auto& jet = jet_colormap();
  auto channel = [](int i, double rise, double fall) {
    return int(std::nearbyint(std::clamp(std::min(4.0 * i + rise, fall - 4.0 * i), 0.0, 255.0)));
  };
  for (int i = 0; i < 256; ++i) {
    INFO("index " << i);
    CHECK(int(jet[size_t(i)].r) == channel(i, -382.5, 1147.5));
    CHECK(int(jet[size_t(i)].g) == channel(i, -127.5, 892.5));
    CHECK(int(jet[size_t(i)].b) == (i == 159 ? 1 : channel(i, 127.5, 637.5)));
  }
  CHECK(jet[0] == Rgb8{0, 0, 128});  // dark blue
  CHECK(jet[32] == Rgb8{0, 0, 255});
  CHECK(jet[96] == Rgb8{2, 255, 254});
  CHECK(jet[128] == Rgb8{130, 255, 126});  // the middle: green
  CHECK(jet[159] == Rgb8{254, 255, 1});
  CHECK(jet[160] == Rgb8{255, 252, 0});
  CHECK(jet[224] == Rgb8{252, 0, 0});
  CHECK(jet[255] == Rgb8{128, 0, 0});  // dark red
}

TEST_CASE("heat_index and shared_heat_range: clipping, truncation, percentiles", "[report][heatmap]") {
  const HeatRange r{1.0f, 3.0f};
  CHECK(heat_index(1.0f, r) == 0);
  CHECK(heat_index(3.0f, r) == 255);
  CHECK(heat_index(2.0f, r) == 127);  // 127.5 truncated, as np.uint8(255 * t)
  CHECK(heat_index(2.99f, r) == 253);
  CHECK(heat_index(-5.0f, r) == 0);
  CHECK(heat_index(50.0f, r) == 255);
  CHECK(heat_index(NAN, r) == 0);
  CHECK_THROWS_AS(heat_index(1.0f, HeatRange{2.0f, 2.0f}), std::invalid_argument);

  std::vector<float> v;
  for (int i = 1000; i >= 0; --i) v.push_back(float(i));  // 0..1000, unsorted
  v.push_back(NAN);                                         // ignored
  CHECK(shared_heat_range(v.data(), v.size()).hi == Approx(999.0f).margin(1e-4));  // numpy: 999.0
  CHECK(shared_heat_range(v.data(), v.size(), 99.95).hi == Approx(999.5f).margin(1e-4));
  CHECK(shared_heat_range(v.data(), v.size(), 50.0).hi == Approx(500.0f).margin(1e-4));
  CHECK(shared_heat_range(v.data(), v.size()).lo == 0.0f);
  const std::vector<float> zeros(10, 0.0f);
  CHECK(shared_heat_range(zeros.data(), zeros.size()).hi == 1.0f);
  std::vector<float> sparse(10000, 0.0f);
  sparse[7] = 4.0f;  // the 99.9th percentile is 0: fall back to the maximum
  CHECK(shared_heat_range(sparse.data(), sparse.size()).hi == 4.0f);
  CHECK_THROWS_AS(shared_heat_range(v.data(), v.size(), 101.0), std::invalid_argument);
}

TEST_CASE("shared_heat_range_of values in pieces equals shared_heat_range of them all", "[report][heatmap]") {
  std::mt19937 rng(3);
  std::vector<std::vector<float>> cases;
  std::vector<float> ties(5000);  // few distinct values: order statistics k and k + 1 often equal
  for (float& x : ties) x = float(rng() % 7) * 0.125f;
  cases.push_back(ties);
  std::vector<float> wide(4001);  // spread over many exponents, some negative, a NaN and an infinity
  for (float& x : wide) x = std::ldexp(float(rng() % 1000) / 1000.0f, int(rng() % 40) - 20) * (rng() % 5 ? 1 : -1);
  wide[17] = NAN;
  wide[99] = INFINITY;
  cases.push_back(wide);
  cases.push_back(std::vector<float>(300, 0.0f));  // all zero: the fallback to 1
  std::vector<float> sparse(3000, -0.0f);
  sparse[5] = 2.5f;  // the percentile is 0: the fallback to the maximum
  cases.push_back(sparse);
  cases.push_back({NAN});  // nothing to rank
  for (size_t c = 0; c < cases.size(); ++c) {
    const std::vector<float>& v = cases[c];
    for (double q : {0.0, 50.0, 99.0, 99.9, 100.0}) {
      INFO("case " << c << ", percentile " << q);
      int passes = 0;
      const HeatRange got = shared_heat_range_of(
          [&](const std::function<void(const float*, size_t)>& visit) {
            ++passes;
            for (size_t first = 0; first < v.size(); first += 333) visit(v.data() + first, std::min<size_t>(333, v.size() - first));
          },
          q);
      CHECK(got.hi == shared_heat_range(v.data(), v.size(), q).hi);
      CHECK(got.lo == 0.0f);
      CHECK(passes <= 2);
    }
  }
  CHECK_THROWS_AS(shared_heat_range_of([](const auto&) {}, -1.0), std::invalid_argument);
}

TEST_CASE("MapSpill gives back the images and maps appended in chunks, and their heat ranges", "[report]") {
  const int size = 5, levels = 2;
  const size_t plane = size_t(size) * size;
  std::mt19937 rng(8);
  // Two chunks of 3 and 4 images.
  auto chunk = [&](int n, ImageSet& images, AnomalyMaps& maps) {
    images.size = maps.size = size;
    maps.count = n;
    maps.levels = levels;
    for (int i = 0; i < n; ++i) {
      ImageRecord r;
      r.path = "img" + std::to_string(rng() % 1000);
      images.records.push_back(r);
    }
    for (size_t k = 0; k < n * 3 * plane; ++k) images.rgb.push_back(uint8_t(rng()));
    for (size_t k = 0; k < n * plane; ++k) images.masks.push_back(uint8_t(rng() % 2 ? 255 : 0));
    for (size_t k = 0; k < n * plane; ++k) maps.combined.push_back(float(rng() % 997) / 97.0f);
    for (size_t k = 0; k < levels * n * plane; ++k) maps.level_maps.push_back(float(rng() % 991) / 89.0f);
    for (int i = 0; i < n; ++i) maps.scores.push_back(*std::max_element(maps.map(i), maps.map(i) + plane));
  };
  ImageSet a, b;
  AnomalyMaps ma, mb;
  chunk(3, a, ma);
  chunk(4, b, mb);
  const test::TempDir tmp("map_spill");
  std::vector<ImageRecord> records = a.records;
  records.insert(records.end(), b.records.begin(), b.records.end());
  MapSpill spill(tmp.path.string(), records, size, levels, true);
  spill.append(a, ma);
  spill.append(b, mb);
  REQUIRE(spill.count() == 7);
  CHECK_THROWS_AS(spill.append(b, mb), std::logic_error);  // more images than records
  ImageSet got;
  AnomalyMaps got_maps;
  spill.read(2, 3, got, got_maps);  // the last of chunk a, the first two of chunk b
  REQUIRE(got.count() == 3);
  CHECK(got.records[0].path == a.records[2].path);
  CHECK(got.records[2].path == b.records[1].path);
  CHECK(std::equal(got.rgb_image(0), got.rgb_image(0) + 3 * plane, a.rgb_image(2)));
  CHECK(std::equal(got.rgb_image(1), got.rgb_image(1) + 3 * plane, b.rgb_image(0)));
  CHECK(std::equal(got.mask(2), got.mask(2) + plane, b.mask(1)));
  CHECK(std::equal(got_maps.map(0), got_maps.map(0) + plane, ma.map(2)));
  CHECK(std::equal(got_maps.map(2), got_maps.map(2) + plane, mb.map(1)));
  CHECK(std::equal(got_maps.level(1, 0), got_maps.level(1, 0) + plane, ma.level(1, 2)));
  CHECK(std::equal(got_maps.level(0, 1), got_maps.level(0, 1) + plane, mb.level(0, 0)));
  CHECK(got_maps.scores == std::vector<float>{ma.scores[2], mb.scores[0], mb.scores[1]});
  CHECK(got.pixels.empty());
  // Heat ranges from the spill are those of all maps in memory.
  AnomalyMaps all;
  spill.read(0, 7, got, all);
  const HeatRanges from_spill = heat_ranges_of(spill), in_memory = heat_ranges_of(all);
  REQUIRE(from_spill.levels.size() == 2);
  for (int l = 0; l < levels; ++l) CHECK(from_spill.levels[l].hi == in_memory.levels[l].hi);
  CHECK(from_spill.combined.hi == in_memory.combined.hi);
  CHECK(in_memory.levels[0].hi != in_memory.levels[1].hi);
  CHECK_THROWS_AS(spill.read(5, 3, got, all), std::logic_error);
}

TEST_CASE("blend and outlines on known pixels", "[report][heatmap]") {
  Image8 a(2, 1, 3), b(2, 1, 3);
  a.data = {255, 0, 128, 10, 20, 30};
  b.data = {0, 0, 1, 128, 0, 0};
  CHECK(blend_half(a, b).data == std::vector<uint8_t>({128, 0, 65, 69, 10, 15}));  // (a + b + 1) / 2
  CHECK_THROWS_AS(blend_half(a, Image8(1, 1, 3)), std::invalid_argument);

  // A 6x6 square at rows 2..7, columns 3..8 of a 10x10 mask.
  const int w = 10, h = 10;
  std::vector<uint8_t> mask(w * h, 0);
  for (int y = 2; y <= 7; ++y)
    for (int x = 3; x <= 8; ++x) mask[size_t(y * w + x)] = 1;
  for (int t : {1, 2}) {
    const std::vector<uint8_t> edge = region_outline(mask.data(), w, h, t);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const bool inside = y >= 2 && y <= 7 && x >= 3 && x <= 8;
        const bool deep = y >= 2 + t && y <= 7 - t && x >= 3 + t && x <= 8 - t;
        INFO("thickness " << t << " pixel " << x << "," << y);
        REQUIRE(bool(edge[size_t(y * w + x)]) == (inside && !deep));
      }
  }
  // A band along the top border: the border closes the outline (rows 0 and 3, columns 0 and 9).
  std::vector<uint8_t> band(w * h, 0);
  std::fill(band.begin(), band.begin() + 4 * w, uint8_t(255));
  const std::vector<uint8_t> edge = region_outline(band.data(), w, h, 1);
  int count = 0;
  for (uint8_t e : edge) count += e;
  CHECK(count == 40 - 16);
  CHECK(edge[0] == 1);
  CHECK(edge[size_t(1 * w + 1)] == 0);
  CHECK(edge[size_t(3 * w + 5)] == 1);
  CHECK(edge[size_t(4 * w + 5)] == 0);
}

TEST_CASE("result image: panel layout, blending, outlines, PNG written with folders", "[report][heatmap]") {
  const int s = 8, sep = 2;
  Image8 img(s, s, 3);
  for (size_t i = 0; i < img.data.size(); ++i) img.data[i] = uint8_t(i * 7 % 256);
  std::vector<float> l1(s * s, 0.0f), l2(s * s, 0.5f), l3(s * s, 2.0f), combined(s * s, 0.0f);
  std::vector<uint8_t> mask(s * s, 0);
  for (int y = 1; y <= 4; ++y)
    for (int x = 1; x <= 4; ++x) mask[size_t(y * s + x)] = 1;
  combined[size_t(6 * s + 6)] = 1.0f;  // a one-pixel prediction far from the mask

  ResultImageInput in;
  in.image = &img;
  in.level_maps = {l1.data(), l2.data(), l3.data()};
  in.combined = combined.data();
  in.mask = mask.data();
  ResultImageStyle style;
  style.level_ranges = {{0, 1}, {0, 1}, {0, 1}};
  style.combined_range = {0, 1};
  style.threshold = 0.5f;
  style.outline_px = 1;
  style.separator_px = sep;
  const Image8 out = compose_result_image(in, style);
  REQUIRE(out.width == 5 * s + 4 * sep);
  REQUIRE(out.height == s);
  REQUIRE(out.channels == 3);

  auto px = [&](int panel, int x, int y) {
    const uint8_t* p = out.row(y) + size_t(panel * (s + sep) + x) * 3;
    return Rgb8{p[0], p[1], p[2]};
  };
  auto blended = [&](int x, int y, Rgb8 c) {
    const uint8_t* q = img.row(y) + size_t(x) * 3;
    return Rgb8{uint8_t((q[0] + c.r + 1) / 2), uint8_t((q[1] + c.g + 1) / 2), uint8_t((q[2] + c.b + 1) / 2)};
  };
  const auto& jet = jet_colormap();
  CHECK(px(0, 3, 5) == Rgb8{img.row(5)[9], img.row(5)[10], img.row(5)[11]});  // the input, unchanged
  CHECK(px(1, 3, 5) == blended(3, 5, jet[0]));                                 // level 1 at lo
  CHECK(px(2, 3, 5) == blended(3, 5, jet[127]));                               // level 2 at the middle
  CHECK(px(3, 3, 5) == blended(3, 5, jet[255]));                               // level 3 above hi
  const uint8_t* bar = out.row(2) + size_t(s) * 3;                             // first separator
  CHECK((bar[0] == 255 && bar[1] == 255 && bar[2] == 255));
  CHECK(px(4, 1, 1) == kGroundTruthColour);  // mask corner
  CHECK(px(4, 4, 2) == kGroundTruthColour);  // mask edge
  CHECK(px(4, 2, 2) == blended(2, 2, jet[0]));  // mask interior: heat only
  CHECK(px(4, 6, 6) == kPredictionColour);      // the predicted pixel
  CHECK(px(4, 7, 7) == blended(7, 7, jet[0]));

  style.threshold = NAN;  // no prediction outline: the predicted pixel shows its heat colour
  const Image8 plain = compose_result_image(in, style);
  const uint8_t* p66 = plain.row(6) + size_t(4 * (s + sep) + 6) * 3;
  CHECK(Rgb8{p66[0], p66[1], p66[2]} == blended(6, 6, jet[255]));
  style.level_ranges.pop_back();
  CHECK_THROWS_AS(compose_result_image(in, style), std::invalid_argument);
  style.level_ranges.push_back({0, 1});

  const test::TempDir tmp("report_images");
  const std::string dir = tmp.path.string();
  const std::string path = result_image_path(dir, "bottle", "broken_large", "000");
  style.threshold = 0.5f;
  write_result_image(path, in, style);
  const Image8 back = read_image_rgb(path);
  CHECK(back.width == out.width);
  CHECK(back.height == out.height);
  CHECK(back.data == out.data);
  const std::string blocked = blocked_path(dir, "x.png");
  CHECK_THROWS_WITH(write_result_image(blocked, in, style), Catch::Contains(blocked));
}

TEST_CASE("report.html: misjudged images first, names escaped, paths encoded, no script, ROC curve steps",
          "[report][html]") {
  HtmlReport r;
  r.title = "bottle <1>";
  r.facts = {{"image ROC-AUC", "0.9&"}};
  r.threshold = 0.5;
  r.roc = HtmlCurve{{0, 0.5, 1}, {0, 1, 1}};
  auto row = [](const std::string& name, int label, float score) {
    HtmlReportRow x;
    x.name = name;
    x.label = label;
    x.score = score;
    x.predicted = score >= 0.5f;
    x.image = "images/" + name + ".png";
    return x;
  };
  // TN 0.1, TP 0.9, FN 0.4, FP 0.7, TP 0.6: shown FP, FN, then TP by score, then TN.
  r.rows = {row("good/tn", 0, 0.1f), row("crack/tp_low", 1, 0.6f), row("crack/fn", 1, 0.4f),
            row("good/fp #1", 0, 0.7f), row("crack/tp", 1, 0.9f)};
  const std::string page = html_report(r);
  std::vector<size_t> at;
  for (const char* name : {"good/fp #1", "crack/fn", "crack/tp", "crack/tp_low", "good/tn"}) {
    at.push_back(page.find(std::string("<td>") + name + "</td>"));
    CHECK(at.back() != std::string::npos);
  }
  CHECK(std::is_sorted(at.begin(), at.end()));
  CHECK(page.find("images/good/fp%20%231.png") != std::string::npos);
  CHECK(page.find("stfpm report: bottle &lt;1&gt;") != std::string::npos);
  CHECK(page.find("0.9&amp;") != std::string::npos);
  CHECK(page.find("<script") == std::string::npos);
  CHECK(page.find("id=\"roc\"") != std::string::npos);
  CHECK(page.find("id=\"pro\"") == std::string::npos);  // no PRO curve given (no masks): no plot
  CHECK(page.find("id=\"histogram\"") != std::string::npos);
  CHECK(page.find("2 misjudged") != std::string::npos);

  // roc_curve: one point per distinct score, ties one step, from (0, 0) to (1, 1).
  const float scores[] = {0.9f, 0.8f, 0.8f, 0.3f, 0.1f};
  const uint8_t labels[] = {1, 1, 0, 0, 1};
  const RocCurve c = roc_curve(scores, labels, 5);
  CHECK(c.fpr == std::vector<double>{0, 0, 0.5, 1, 1});
  CHECK(c.tpr == std::vector<double>{0, 1.0 / 3, 2.0 / 3, 2.0 / 3, 1});
  const uint8_t one_class[] = {1, 1, 1, 1, 1};
  CHECK(roc_curve(scores, one_class, 5).fpr.empty());
}
