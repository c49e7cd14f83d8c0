// The CPU evaluator: hand-checkable cases, degenerate input, and fixtures from scikit-learn and a numpy/scipy
// AUPRO oracle (tools/make_metrics_fixtures.py).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "io/hdf5_io.h"
#include "eval/metrics.h"
#include "eval/metrics_internal.h"
#include "test_util.h"

using namespace stfpm;

namespace {

const double kInf = std::numeric_limits<double>::infinity();

std::vector<uint8_t> bytes(const std::vector<int64_t>& v) { return std::vector<uint8_t>(v.begin(), v.end()); }

double scalar(const H5Reader& in, const std::string& name) { return in.read_doubles(name).at(0); }

void check_f1(const F1Threshold& got, const std::vector<double>& expected) {
  REQUIRE(expected.size() == 4);
  CHECK(got.threshold == expected[0]);  // one of the float scores, exactly
  CHECK(got.f1 == Approx(expected[1]).margin(1e-12).epsilon(0));
  CHECK(got.precision == Approx(expected[2]).margin(1e-12).epsilon(0));
  CHECK(got.recall == Approx(expected[3]).margin(1e-12).epsilon(0));
}

bool close_doubles(const std::string& name, const std::vector<double>& got, const std::vector<double>& want,
                   double tol) {
  if (got.size() != want.size()) {
    WARN(name << ": " << got.size() << " points, expected " << want.size());
    return false;
  }
  for (size_t k = 0; k < got.size(); ++k) {
    bool same_inf = std::isinf(want[k]) && got[k] == want[k];
    if (!same_inf && !(std::fabs(got[k] - want[k]) <= tol)) {
      WARN(name << "[" << k << "]: got " << got[k] << " expected " << want[k]);
      return false;
    }
  }
  return true;
}

}  // namespace

TEST_CASE("metrics: mask rules binarize strictly at 255 or at >= 128 and have stable names", "[metrics]") {
  const std::vector<uint8_t> gray = {0, 1, 127, 128, 200, 254, 255};
  std::vector<uint8_t> out(gray.size());
  binarize_mask(out.data(), gray.data(), gray.size(), MaskRule::strict);
  CHECK(out == std::vector<uint8_t>{0, 0, 0, 0, 0, 0, 1});
  binarize_mask(out.data(), gray.data(), gray.size(), MaskRule::half);
  CHECK(out == std::vector<uint8_t>{0, 0, 0, 1, 1, 1, 1});
  std::vector<uint8_t> in_place = gray;
  binarize_mask(in_place.data(), in_place.data(), in_place.size());  // default rule: strict
  CHECK(in_place == std::vector<uint8_t>{0, 0, 0, 0, 0, 0, 1});
  CHECK(std::string(mask_rule_name(MaskRule::strict)) == "strict255");
  CHECK(std::string(mask_rule_name(MaskRule::half)) == "ge128");
  CHECK(parse_mask_rule("strict255") == MaskRule::strict);
  CHECK(parse_mask_rule("ge128") == MaskRule::half);
  CHECK_THROWS_WITH(parse_mask_rule("128"), Catch::Contains("unknown mask rule '128'"));
}

TEST_CASE("metrics: ROC-AUC of hand-checkable cases counts ties one half", "[metrics]") {
  // 3 positives, 6 negatives. Positive 3 beats all 6 negatives; each positive 2 beats 4 and ties 2:
  // U = 6 + 2 * (4 + 2 / 2) = 16 of 18 pairs.
  const std::vector<float> s = {3, 2, 2, 2, 1, 1, 0, 2, 1};
  const std::vector<uint8_t> l = {1, 1, 1, 0, 0, 0, 0, 0, 0};
  CHECK(roc_auc(s.data(), l.data(), s.size()) == Approx(16.0 / 18.0).margin(1e-15));
  const std::vector<float> s2 = {0.1f, 0.4f, 0.35f, 0.8f};  // scikit-learn's documented example: 0.75
  const std::vector<uint8_t> l2 = {0, 0, 1, 1};
  CHECK(roc_auc(s2.data(), l2.data(), 4) == Approx(0.75).margin(1e-15));
  const std::vector<float> flat(7, 0.25f);  // all scores equal: every pair is a tie
  const std::vector<uint8_t> l3 = {1, 0, 0, 1, 0, 0, 0};
  CHECK(roc_auc(flat.data(), l3.data(), 7) == Approx(0.5).margin(1e-15));
  F1Threshold flat_f1 = best_f1_threshold(flat.data(), l3.data(), 7);  // the only threshold admits all 7
  CHECK(flat_f1.threshold == 0.25);
  CHECK(flat_f1.f1 == Approx(4.0 / 9.0).margin(1e-15));
  const std::vector<float> rev = {-INFINITY, -1, 0, 1, INFINITY};  // infinities are ordinary extreme scores
  const std::vector<uint8_t> l4 = {1, 1, 0, 0, 0};
  CHECK(roc_auc(rev.data(), l4.data(), 5) == 0.0);
  const std::vector<float> zeros = {-0.0f, 0.0f};  // -0 and +0 are one score
  const std::vector<uint8_t> l5 = {1, 0};
  CHECK(roc_auc(zeros.data(), l5.data(), 2) == Approx(0.5).margin(1e-15));
}

TEST_CASE("metrics: degenerate ROC-AUC and F1 input give NaN or a clear error", "[metrics][bad-input]") {
  const std::vector<float> s = {0.5f, 0.7f, NAN, 0.1f};
  const std::vector<uint8_t> one_class = {0, 0, 0, 0};
  CHECK(std::isnan(roc_auc(s.data(), one_class.data(), 2)));
  CHECK(std::isnan(roc_auc(nullptr, nullptr, 0)));
  const std::vector<uint8_t> all_pos = {1, 1};
  CHECK(std::isnan(roc_auc(s.data(), all_pos.data(), 2)));
  const std::vector<uint8_t> l = {0, 1, 0, 1};
  CHECK_THROWS_WITH(roc_auc(s.data(), l.data(), 4), Catch::Contains("score at index 2 is NaN"));
  const std::vector<uint8_t> bad = {0, 255, 0, 1};
  CHECK_THROWS_WITH(roc_auc(s.data(), bad.data(), 2), Catch::Contains("label 255 at index 1 is not 0 or 1"));
  F1Threshold none = best_f1_threshold(s.data(), one_class.data(), 2);
  CHECK((std::isnan(none.threshold) && std::isnan(none.f1) && std::isnan(none.precision) &&
         std::isnan(none.recall)));
  F1Threshold everything = best_f1_threshold(s.data(), all_pos.data(), 2);  // predict all: F1 1 at the lowest
  CHECK(everything.threshold == Approx(0.5));
  CHECK(everything.f1 == 1.0);
}

TEST_CASE("metrics: best F1 threshold of hand-checkable cases", "[metrics]") {
  // Thresholds 0.9 .. 0.5 give F1 = 2TP / (TP + FP + 2): 2/3, 1/2, 4/5, 2/3, 4/7.
  const std::vector<float> s = {0.9f, 0.8f, 0.7f, 0.6f, 0.5f};
  const std::vector<uint8_t> l = {1, 0, 1, 0, 0};
  F1Threshold t = best_f1_threshold(s.data(), l.data(), 5);
  CHECK(t.threshold == double(0.7f));
  CHECK(t.f1 == Approx(0.8).margin(1e-15));
  CHECK(t.precision == Approx(2.0 / 3.0).margin(1e-15));
  CHECK(t.recall == 1.0);
  // 0.9 and 0.6 both reach F1 2/3: the higher threshold wins.
  const std::vector<uint8_t> l2 = {1, 0, 0, 1, 0};
  F1Threshold tie = best_f1_threshold(s.data(), l2.data(), 4);
  CHECK(tie.threshold == double(0.9f));
  CHECK(tie.f1 == Approx(2.0 / 3.0).margin(1e-15));
}

TEST_CASE("metrics: ROC-AUC and F1 match scikit-learn on tied and continuous scores", "[metrics]") {
  H5Reader in(test::fixture_path("metrics_fixture.h5"));
  for (const std::string name : {"auc_ties", "auc_cont"}) {
    INFO(name);
    std::vector<float> s = in.read_floats(name + "/scores");
    std::vector<uint8_t> l = bytes(in.read_ints(name + "/labels"));
    CHECK(roc_auc(s.data(), l.data(), s.size()) == Approx(scalar(in, name + "/expected_auc")).margin(1e-9));
    check_f1(best_f1_threshold(s.data(), l.data(), s.size()), in.read_doubles(name + "/expected_f1"));
  }
}

TEST_CASE("metrics: radix sort orders float keys like std::stable_sort orders floats", "[metrics]") {
  // Enough keys for the parallel path; three spreads: arbitrary bit patterns (every digit varies), a narrow range
  // (only low bits vary: one MSD pass over them), and few distinct values (long runs of equal keys).
  std::mt19937 rng(7);
  for (int spread = 0; spread < 3; ++spread) {
    INFO("spread " << spread);
    std::vector<float> f(200000);
    for (float& x : f) {
      uint32_t u = rng();
      std::memcpy(&x, &u, sizeof u);
      if (spread == 1 || std::isnan(x)) x = 1.0f + float(u % 1000) * 1e-6f;
      if (spread == 2) x = float(int(u % 7) - 3);
    }
    f[0] = -0.0f, f[1] = 0.0f, f[2] = INFINITY, f[3] = -INFINITY;
    std::vector<uint32_t> keys(f.size()), tags(f.size());
    for (size_t i = 0; i < f.size(); ++i) keys[i] = float_key(f[i]), tags[i] = uint32_t(i);
    detail::radix_sort(keys, &tags);
    std::vector<uint32_t> order(f.size());
    for (size_t i = 0; i < f.size(); ++i) order[i] = uint32_t(i);
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return f[a] < f[b]; });
    CHECK(tags == order);  // stable: equal scores keep their input order
    bool round_trip = true;
    for (size_t i = 0; i < f.size(); ++i) round_trip &= key_float(keys[i]) == f[order[i]];
    CHECK(round_trip);
  }
}

TEST_CASE("metrics: PRO curve of a hand-checkable image, diagonal neighbours are one component", "[metrics]") {
  // 4x4 map. Component A = (0,0) and (1,1), touching only diagonally; component B = (3,3). 13 defect-free
  // pixels all score 0.5. Going down: 0.9 admits half of A (PRO 1/4), 0.8 all of B (PRO 3/4; the point at 0.9
  // lies on the same vertical line and is merged), 0.5 every defect-free pixel (FPR 1), 0.3 the rest of A.
  std::vector<float> map(16, 0.5f);
  std::vector<uint8_t> mask(16, 0);
  map[0] = 0.9f, mask[0] = 1;
  map[5] = 0.3f, mask[5] = 1;
  map[15] = 0.8f, mask[15] = 1;
  ProCurve c = pro_curve(map.data(), mask.data(), 1, 4, 4);
  CHECK(c.fpr == std::vector<double>{0, 0, 1, 1});
  CHECK(c.pro == std::vector<double>{0, 0.75, 0.75, 1});  // with 4-connectivity: 0, 2/3, 2/3, 1
  CHECK(c.threshold == std::vector<double>{kInf, double(0.8f), 0.5, double(0.3f)});
  CHECK(aupro(c) == Approx(0.75).margin(1e-15));
  CHECK(aupro(c, 1.0) == Approx(0.75).margin(1e-15));
  // All scores equal: one step from (0, 0) to (1, 1); up to FPR 0.3 that is a triangle of area 0.045.
  const std::vector<float> flat(16, 2.0f);
  ProCurve diagonal = pro_curve(flat.data(), mask.data(), 1, 4, 4);
  CHECK(diagonal.fpr == std::vector<double>{0, 1});
  CHECK(diagonal.pro == std::vector<double>{0, 1});
  CHECK(aupro(diagonal) == Approx(0.15).margin(1e-15));
  Evaluation e = evaluate(map.data(), mask.data(), 1, 4, 4, map.data(), mask.data(), MaskRule::half);
  CHECK(e.n_components == 2);
  CHECK(e.n_defect_pixels == 3);
  CHECK(e.rule == MaskRule::half);
}

TEST_CASE("metrics: AUPRO integrates with the trapezoid rule and interpolates the end point", "[metrics]") {
  ProCurve c;
  c.fpr = {0, 0.2, 0.4, 1};
  c.pro = {0, 0.5, 1, 1};
  // 0..0.2: 0.05; 0.2..0.3 up to the interpolated 0.75: 0.0625; sum / 0.3.
  CHECK(aupro(c, 0.3) == Approx(0.1125 / 0.3).margin(1e-15));
  CHECK(aupro(c, 1.0) == Approx(0.05 + 0.15 + 0.6).margin(1e-15));
  ProCurve exact;  // a point at exactly 0.3, then a vertical step that must not count
  exact.fpr = {0, 0, 0.3, 0.3, 1};
  exact.pro = {0, 0.6, 0.6, 0.9, 1};
  CHECK(aupro(exact, 0.3) == Approx(0.6).margin(1e-15));
  CHECK(std::isnan(aupro(ProCurve{})));
  CHECK_THROWS_WITH(aupro(c, 0.0), Catch::Contains("max_fpr must be in (0, 1]"));
  CHECK_THROWS_WITH(aupro(c, 1.5), Catch::Contains("max_fpr must be in (0, 1]"));
}

TEST_CASE("metrics: PRO curve, AUPRO and evaluate match the numpy/scipy oracle", "[metrics]") {
  H5Reader in(test::fixture_path("metrics_fixture.h5"));
  for (const std::string name : {"pro_ties", "pro_cont"}) {
    INFO(name);
    Shape shape;
    std::vector<float> maps = in.read_floats(name + "/maps", &shape);
    std::vector<uint8_t> masks = bytes(in.read_ints(name + "/masks"));
    std::vector<float> image_scores = in.read_floats(name + "/image_scores");
    std::vector<uint8_t> image_labels = bytes(in.read_ints(name + "/image_labels"));
    const int n = int(shape[0]), h = int(shape[1]), w = int(shape[2]);
    ProCurve c = pro_curve(maps.data(), masks.data(), n, h, w);
    CHECK(close_doubles("fpr", c.fpr, in.read_doubles(name + "/expected_curve_fpr"), 1e-12));
    CHECK(close_doubles("pro", c.pro, in.read_doubles(name + "/expected_curve_pro"), 1e-12));
    CHECK(close_doubles("threshold", c.threshold, in.read_doubles(name + "/expected_curve_threshold"), 0.0));
    std::vector<double> limits = in.read_doubles(name + "/expected_aupro_limits");
    std::vector<double> expected = in.read_doubles(name + "/expected_aupro");
    for (size_t k = 0; k < limits.size(); ++k) CHECK(aupro(c, limits[k]) == Approx(expected[k]).margin(1e-6));

    Evaluation e = evaluate(maps.data(), masks.data(), n, h, w, image_scores.data(), image_labels.data(),
                            MaskRule::strict);
    CHECK(e.pixel_auroc == Approx(scalar(in, name + "/expected_pixel_auc")).margin(1e-9));
    CHECK(e.image_auroc == Approx(scalar(in, name + "/expected_image_auc")).margin(1e-9));
    CHECK(e.pixel_aupro == Approx(expected[0]).margin(1e-6));
    check_f1(e.pixel_f1, in.read_doubles(name + "/expected_pixel_f1"));
    check_f1(e.image_f1, in.read_doubles(name + "/expected_image_f1"));
    CHECK(e.n_components == size_t(in.read_ints(name + "/expected_n_components").at(0)));
    CHECK(e.pro.fpr == c.fpr);
    CHECK(e.n_pixels == maps.size());
    CHECK(e.n_images == n);
    CHECK(e.n_anomalous_images == std::count(image_labels.begin(), image_labels.end(), 1));
  }
}

TEST_CASE("metrics: degenerate maps give NaN, bad masks and NaN scores a clear error", "[metrics][bad-input]") {
  std::vector<float> maps = test::random_vector(2 * 3 * 5, 11, 0.0f, 1.0f);
  std::vector<uint8_t> masks(maps.size(), 0);
  const std::vector<float> image_scores = {0.2f, 0.4f};
  const std::vector<uint8_t> image_labels = {0, 1};
  // No defect pixel anywhere: pixel AUC and AUPRO are undefined, the image metrics are not.
  Evaluation e = evaluate(maps.data(), masks.data(), 2, 3, 5, image_scores.data(), image_labels.data(),
                          MaskRule::strict);
  CHECK(std::isnan(e.pixel_auroc));
  CHECK(std::isnan(e.pixel_aupro));
  CHECK(e.pro.fpr.empty());
  CHECK(e.image_auroc == 1.0);
  std::vector<uint8_t> all_defect(maps.size(), 1);  // no defect-free pixel: FPR undefined
  CHECK(pro_curve(maps.data(), all_defect.data(), 2, 3, 5).fpr.empty());
  CHECK(pro_curve(nullptr, nullptr, 0, 3, 5).fpr.empty());

  masks[15 + 7] = 255;  // image 1, y 1, x 2: an 8-bit mask that was not binarized
  CHECK_THROWS_WITH(pro_curve(maps.data(), masks.data(), 2, 3, 5),
                    Catch::Contains("mask value 255 in image 1 at (y 1, x 2)") && Catch::Contains("binarize_mask"));
  masks[15 + 7] = 1;
  maps[4] = NAN;
  CHECK_THROWS_WITH(evaluate(maps.data(), masks.data(), 2, 3, 5, image_scores.data(), image_labels.data(),
                             MaskRule::strict),
                    Catch::Contains("evaluate: NaN score in image 0 at (y 0, x 4)"));
  CHECK_THROWS_WITH(pro_curve(maps.data(), masks.data(), 2, 0, 5), Catch::Contains("bad map shape (2, 0, 5)"));
}

TEST_CASE("metrics: validation thresholds are numpy's linear quantile or the lowest one within a false-positive rate",
          "[metrics]") {
  // numpy.quantile(x, q) of these, computed with numpy 1.24.
  CHECK(quantile_threshold({5, 1, 4, 2, 3}, 0.995) == Approx(4.98).epsilon(1e-12));
  CHECK(quantile_threshold({4, 1, 3, 2}, 0.75) == Approx(3.25).epsilon(1e-12));
  CHECK(quantile_threshold({3, 1, 2}, 0.5) == 2.0);
  CHECK(quantile_threshold({3, 1, 2}, 0.0) == 1.0);
  CHECK(quantile_threshold({3, 1, 2}, 1.0) == 3.0);
  CHECK(quantile_threshold({7}, 0.995) == 7.0);
  CHECK(quantile_threshold({2, 2, 2, 9}, 0.5) == 2.0);

  const std::vector<float> ten{3, 1, 4, 10, 5, 9, 2, 6, 8, 7};
  auto flagged = [&](double t) { return std::count_if(ten.begin(), ten.end(), [&](float s) { return s >= t; }); };
  // At most floor(max_fpr * n) flagged, and the next float down would flag one more.
  for (const auto& [fpr, allowed] : std::vector<std::pair<double, long>>{{0.0, 0}, {0.1, 1}, {0.25, 2}, {0.95, 9}}) {
    const double t = max_fpr_threshold(ten, fpr);
    INFO("max_fpr " << fpr);
    CHECK(flagged(t) == allowed);
    CHECK(flagged(std::nextafter(float(t), -INFINITY)) == allowed + 1);
  }
  CHECK(max_fpr_threshold(ten, 0.1) == double(std::nextafter(9.0f, INFINITY)));
  std::vector<float> hundred(100);
  for (int i = 0; i < 100; ++i) hundred[size_t(i)] = float(i);
  CHECK(max_fpr_threshold(hundred, 0.29) == double(std::nextafter(70.0f, INFINITY)));  // 29 flagged, not 28
  // Ties cannot be split: three equal top scores and room for two false positives flag none.
  CHECK(max_fpr_threshold({5, 5, 5, 1}, 0.5) == double(std::nextafter(5.0f, INFINITY)));

  CHECK_THROWS_WITH(quantile_threshold({}, 0.5), Catch::Contains("no validation scores"));
  CHECK_THROWS_WITH(quantile_threshold({1, NAN}, 0.5), Catch::Contains("validation score 1 is NaN"));
  CHECK_THROWS_WITH(quantile_threshold({1}, 1.5), Catch::Contains("quantile must be in [0, 1]"));
  CHECK_THROWS_WITH(max_fpr_threshold({1}, 1.0), Catch::Contains("max_fpr must be in [0, 1)"));
}

TEST_CASE("metrics: pixels sorted in runs on disk give the in-memory results to the last bit", "[metrics]") {
  // 9 images of 24 x 20 with tied scores (quantized to 1/64, so equal keys cross run boundaries), blobs of defect
  // pixels in some images, and one image whose map is all one value.
  const int n = 9, h = 24, w = 20;
  const size_t plane = size_t(h) * w;
  std::mt19937 rng(5);
  std::vector<float> maps(n * plane);
  std::vector<uint8_t> masks(n * plane, 0);
  for (size_t i = 0; i < maps.size(); ++i) maps[i] = float(rng() % 64) / 64.0f;
  std::fill(maps.begin() + 4 * long(plane), maps.begin() + 5 * long(plane), 0.5f);
  for (int img : {1, 2, 4, 6, 7}) {
    // Blobs of different sizes, so that components weigh 1/3, 1/7, ...: the order of the PRO curve's sums shows
    // in its last bits. Their scores take 8 values, so many defect pixels tie across runs.
    for (int blob = 0; blob < 6; ++blob) {
      const int bh = 1 + int(rng() % 5), bw = 1 + int(rng() % 4);
      const int y0 = int(rng() % (h - bh)), x0 = int(rng() % (w - bw));
      for (int y = y0; y < y0 + bh; ++y)
        for (int x = x0; x < x0 + bw; ++x) {
          const size_t p = size_t(img) * plane + size_t(y) * w + x;
          masks[p] = 1;
          maps[p] = 0.5f + float(rng() % 8) / 16.0f;
        }
    }
  }
  const Evaluation whole = evaluate(maps.data(), masks.data(), n, h, w, maps.data(), masks.data(), MaskRule::strict);
  REQUIRE(whole.n_components > 3);
  // Runs of one image, of 2.5 images (a run ends with the image that fills it), and room for everything.
  const test::TempDir scratch("pixel_runs");
  for (size_t run : {plane, plane * 5 / 2, n * plane + 1}) {
    INFO("run of " << run << " pixels");
    PixelEvaluator pixels(h, w, scratch.path.string(), run);
    for (int i = 0; i < n; ++i) pixels.add(maps.data() + i * plane, masks.data() + i * plane);
    CHECK(pixels.runs_on_disk() == (run > n * plane ? 0u : run == plane ? size_t(n) : 3u));
    const int images = pixels.images();
    const Evaluation e = evaluate(pixels, maps.data(), masks.data(), MaskRule::strict);
    CHECK(images == n);
    CHECK(e.pixel_auroc == whole.pixel_auroc);
    CHECK(e.pixel_f1.threshold == whole.pixel_f1.threshold);
    CHECK(e.pixel_f1.f1 == whole.pixel_f1.f1);
    CHECK(e.pro.fpr == whole.pro.fpr);
    CHECK(e.pro.pro == whole.pro.pro);  // the same sums in the same order: equal, not close
    CHECK(e.pro.threshold == whole.pro.threshold);
    CHECK(e.pixel_aupro == whole.pixel_aupro);
    CHECK(e.n_components == whole.n_components);
    CHECK(e.n_defect_pixels == whole.n_defect_pixels);
    CHECK(e.n_pixels == n * plane);
  }
  // A bad image is refused with its index in the stream, and finish() is once only.
  PixelEvaluator pixels(h, w, scratch.path.string(), plane, "test");
  pixels.add(maps.data(), masks.data());
  std::vector<float> bad(maps.begin(), maps.begin() + long(plane));
  bad[3 * w + 2] = NAN;
  CHECK_THROWS_WITH(pixels.add(bad.data(), masks.data()), Catch::Contains("test: NaN score in image 1 at (y 3, x 2)"));
  pixels.finish();
  CHECK_THROWS_AS(pixels.finish(), std::logic_error);
}
