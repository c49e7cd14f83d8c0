#include <catch2/catch.hpp>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/image_io.h"
#include "data/synthetic.h"
#include "test_util.h"

using namespace stfpm;
using test::TempDir;
namespace fs = std::filesystem;

namespace {

SyntheticOptions small_options() {
  SyntheticOptions o;
  o.size = 64;
  o.train_count = 3;
  o.test_good_count = 2;
  o.per_defect_count = 2;
  o.seed = 7;
  return o;
}

std::vector<char> file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), {});
}

// Relative path -> bytes of every file under root.
std::vector<std::pair<std::string, std::vector<char>>> snapshot(const fs::path& root) {
  std::vector<std::pair<std::string, std::vector<char>>> out;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) out.emplace_back(fs::relative(e.path(), root).string(), file_bytes(e.path()));
  std::sort(out.begin(), out.end());
  return out;
}

size_t count_255(const Image8& mask) { return size_t(std::count(mask.data.begin(), mask.data.end(), 255)); }

}  // namespace

TEST_CASE("synthetic: the written dataset scans and loads as an MVTec category", "[data][synthetic]") {
  TempDir tmp("synthetic_layout");
  const SyntheticOptions o = small_options();
  write_synthetic_dataset(tmp.path.string(), o);
  const auto train = scan_split(tmp.path.string(), "synthetic", Split::train);
  const auto test = scan_split(tmp.path.string(), "synthetic", Split::test);
  REQUIRE(train.size() == 3);
  REQUIRE(test.size() == 2 + 3 * 2);
  std::vector<std::string> types;
  for (const auto& r : test) types.push_back(r.defect_type);
  CHECK(types == std::vector<std::string>{"good", "good", "hole", "hole", "scratch", "scratch", "spot", "spot"});
  CHECK(train[0].width == 64);
  CHECK(train[0].height == 64);

  Preprocess pre;
  pre.size = 64;  // the identity resize: masks stay exactly binary
  const ImageSet set = load_images(test, pre, true);
  for (size_t i = 0; i < set.count(); ++i) {
    INFO(test[i].path);
    const uint8_t* m = set.mask(i);
    const auto defect = size_t(std::count(m, m + set.plane(), uint8_t(255)));
    CHECK(std::count(m, m + set.plane(), uint8_t(0)) + long(defect) == long(set.plane()));
    CHECK((defect > 0) == test[i].anomalous);
  }
}

TEST_CASE("synthetic: masks are exactly the painted pixels, and the files are the samples", "[data][synthetic]") {
  TempDir tmp("synthetic_masks");
  const SyntheticOptions o = small_options();
  write_synthetic_dataset(tmp.path.string(), o);
  const fs::path root = tmp.path / "synthetic";
  const double pixels = double(o.size) * o.size;
  for (const std::string type : {"good", "hole", "scratch", "spot"})
    for (int i = 0; i < 2; ++i) {
      INFO(type << " " << i);
      const SyntheticSample s = synthetic_sample(o, Split::test, type, i);
      const std::string stem = "00" + std::to_string(i);
      CHECK(read_image_rgb((root / "test" / type / (stem + ".png")).string()).data == s.image.data);
      size_t outside = 0, inside_changed = 0;
      for (size_t p = 0; p < s.mask.data.size(); ++p) {
        const bool changed = !std::equal(&s.image.data[p * 3], &s.image.data[p * 3 + 3], &s.clean.data[p * 3]);
        if (s.mask.data[p] == 255) inside_changed += changed;
        else outside += changed || s.mask.data[p] != 0;
      }
      CHECK(outside == 0);
      const size_t area = count_255(s.mask);
      if (type == "good") {
        CHECK(area == 0);
        continue;
      }
      CHECK(read_image_gray((root / "ground_truth" / type / (stem + "_mask.png")).string()).data == s.mask.data);
      // Several pixels to a few percent of the image, and (nearly) every masked pixel really changed.
      CHECK(area >= 8);
      CHECK(double(area) <= 0.08 * pixels);
      CHECK(double(inside_changed) >= 0.95 * double(area));
    }
  // Training images are surfaces that vary: neither identical nor unrelated.
  const Image8 a = synthetic_sample(o, Split::train, "good", 0).image;
  const Image8 b = synthetic_sample(o, Split::train, "good", 1).image;
  double mean_diff = 0;
  for (size_t p = 0; p < a.data.size(); ++p) mean_diff += std::abs(int(a.data[p]) - int(b.data[p]));
  mean_diff /= double(a.data.size());
  CHECK(mean_diff > 3.0);
  CHECK(mean_diff < 60.0);
}

TEST_CASE("synthetic: the same seed writes identical files, another seed does not", "[data][synthetic]") {
  TempDir tmp("synthetic_seed");
  SyntheticOptions o = small_options();
  write_synthetic_dataset((tmp.path / "a").string(), o);
  write_synthetic_dataset((tmp.path / "b").string(), o);
  const auto a = snapshot(tmp.path / "a");
  CHECK(a.size() == 3 + 2 + 3 * 2 * 2 + 1);  // images, masks and synthetic.txt
  CHECK(a == snapshot(tmp.path / "b"));
  o.seed = 8;
  write_synthetic_dataset((tmp.path / "c").string(), o);
  const auto c = snapshot(tmp.path / "c");
  REQUIRE(c.size() == a.size());
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].first != "synthetic/synthetic.txt") CHECK(a[i].second != c[i].second);
}

TEST_CASE("synthetic: bad options, and real data is never overwritten", "[data][synthetic][bad-input]") {
  TempDir tmp("synthetic_bad");
  SyntheticOptions o = small_options();
  o.size = 32;
  CHECK_THROWS_WITH(write_synthetic_dataset(tmp.path.string(), o), Catch::Contains("size 32"));
  o = small_options();
  o.defect_types = {"scratch", "dent"};
  CHECK_THROWS_WITH(write_synthetic_dataset(tmp.path.string(), o), Catch::Contains("unknown defect type 'dent'"));
  o = small_options();
  o.train_count = 0;
  CHECK_THROWS_AS(write_synthetic_dataset(tmp.path.string(), o), std::invalid_argument);

  // A category folder that is not ours stays untouched; our own is replaced (fewer images leave no stale files).
  o = small_options();
  fs::create_directories(tmp.path / "synthetic");
  std::ofstream(tmp.path / "synthetic/precious.txt") << "real data";
  CHECK_THROWS_WITH(write_synthetic_dataset(tmp.path.string(), o), Catch::Contains("not a synthetic dataset"));
  CHECK(fs::exists(tmp.path / "synthetic/precious.txt"));
  fs::remove_all(tmp.path / "synthetic");
  write_synthetic_dataset(tmp.path.string(), o);
  o.train_count = 2;
  write_synthetic_dataset(tmp.path.string(), o);
  CHECK(scan_split(tmp.path.string(), "synthetic", Split::train).size() == 2);

  const std::string blocked = (tmp.path / "file").string();
  std::ofstream(blocked) << "x";
  CHECK_THROWS_WITH(write_synthetic_dataset(blocked, o), Catch::Contains(blocked));
}
