#include <catch2/catch.hpp>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/image_io.h"
#include "data/resize.h"
#include "test_util.h"

using namespace stfpm;
using test::TempDir;
namespace fs = std::filesystem;

namespace {

Image8 test_image(int w, int h, int c, int seed) {
  Image8 img(w, h, c);
  for (size_t i = 0; i < img.data.size(); ++i) img.data[i] = uint8_t((i * 131 + size_t(seed) * 977 + i / 5) % 256);
  return img;
}

void put_png(const fs::path& path, const Image8& img) {
  fs::create_directories(path.parent_path());
  write_png(path.string(), img);
}

// <root>/toy: train/good {b, a, c.PNG} plus files to ignore; test/good {g0}; test/zeta {z0} and test/alpha
// {a1, a0}, all 40x30 (gray for a0, to exercise conversion), with masks.
fs::path make_toy(const fs::path& root) {
  const fs::path cat = root / "toy";
  put_png(cat / "train/good/b.png", test_image(40, 30, 3, 1));
  put_png(cat / "train/good/a.png", test_image(40, 30, 3, 2));
  put_png(cat / "train/good/c.PNG", test_image(40, 30, 3, 3));
  put_png(cat / "train/good/.hidden.png", test_image(40, 30, 3, 4));
  std::ofstream(cat / "train/good/notes.txt") << "not an image\n";
  put_png(cat / "test/good/g0.png", test_image(40, 30, 3, 5));
  put_png(cat / "test/zeta/z0.png", test_image(40, 30, 3, 6));
  put_png(cat / "test/alpha/a1.png", test_image(40, 30, 3, 7));
  put_png(cat / "test/alpha/a0.png", test_image(40, 30, 1, 8));
  Image8 mask(40, 30, 1);
  for (int y = 5; y < 20; ++y)
    for (int x = 10; x < 30; ++x) mask.row(y)[x] = 255;
  put_png(cat / "ground_truth/zeta/z0_mask.png", mask);
  put_png(cat / "ground_truth/alpha/a0_mask.png", mask);
  put_png(cat / "ground_truth/alpha/a1_mask.png", mask);
  return cat;
}

std::vector<std::string> stems(const std::vector<ImageRecord>& records) {
  std::vector<std::string> out;
  for (const ImageRecord& r : records) out.push_back(r.defect_type + "/" + r.stem);
  return out;
}

int max_abs_diff(const uint8_t* a, const uint8_t* b, size_t n, size_t* differing) {
  int m = 0;
  *differing = 0;
  for (size_t i = 0; i < n; ++i) {
    const int d = std::abs(int(a[i]) - int(b[i]));
    m = std::max(m, d);
    *differing += d != 0;
  }
  return m;
}

}  // namespace

TEST_CASE("dataset: scans the MVTec layout in sorted order with masks", "[data][dataset]") {
  TempDir tmp("dataset_scan");
  const fs::path cat = make_toy(tmp.path);
  const std::string dir = tmp.path.string();

  const auto train = scan_split(dir, "toy", Split::train);
  CHECK(stems(train) == std::vector<std::string>{"good/a", "good/b", "good/c"});
  CHECK(std::none_of(train.begin(), train.end(), [](const ImageRecord& r) { return r.anomalous; }));
  CHECK(train[0].width == 40);
  CHECK(train[0].height == 30);

  const auto test = scan_split(dir, "toy", Split::test);
  CHECK(stems(test) == std::vector<std::string>{"alpha/a0", "alpha/a1", "good/g0", "zeta/z0"});
  CHECK(test[0].anomalous);
  CHECK(!test[2].anomalous);
  CHECK(test[2].mask_path.empty());
  CHECK(test[3].mask_path == (cat / "ground_truth/zeta/z0_mask.png").string());
  CHECK(test[0].path == (cat / "test/alpha/a0.png").string());
}

TEST_CASE("dataset: load_images resizes, normalizes and loads masks once", "[data][dataset]") {
  TempDir tmp("dataset_load");
  make_toy(tmp.path);
  const auto records = scan_split(tmp.path.string(), "toy", Split::test);
  Preprocess pre;
  pre.size = 24;
  std::vector<std::pair<size_t, size_t>> calls;
  const ImageSet set = load_images(records, pre, true, [&](size_t done, size_t total) {
    calls.emplace_back(done, total);
  });
  REQUIRE(set.count() == 4);
  REQUIRE(set.has_masks());
  CHECK(calls.size() == 4);
  CHECK(calls.back() == std::pair<size_t, size_t>{4, 4});
  const size_t plane = 24 * 24;
  CHECK(set.pixels.size() == 4 * 3 * plane);

  for (size_t i = 0; i < set.count(); ++i) {
    INFO("image " << records[i].path);
    const Image8 want = resize_bilinear(read_image_rgb(records[i].path), 24, 24);
    CHECK(std::equal(want.data.begin(), want.data.end(), set.rgb_image(i)));
    std::vector<float> norm(3 * plane), got(set.image(i), set.image(i) + 3 * plane);
    for (int c = 0; c < 3; ++c)
      for (size_t p = 0; p < plane; ++p)
        norm[size_t(c) * plane + p] = (float(want.data[p * 3 + size_t(c)]) / 255.0f - pre.mean[c]) / pre.std[c];
    CHECK(test::all_close("pixels", got, norm, 0.0, 0.0));
    const uint8_t* m = set.mask(i);
    if (records[i].anomalous) {
      const Image8 mask = resize_bilinear(read_image_gray(records[i].mask_path), 24, 24);
      CHECK(std::equal(mask.data.begin(), mask.data.end(), m));
      CHECK(std::count(m, m + plane, uint8_t(255)) > 0);
    } else {
      CHECK(std::all_of(m, m + plane, [](uint8_t v) { return v == 0; }));
    }
  }
  // The gray image a0 is replicated into three equal channels.
  const uint8_t* a0 = set.rgb_image(0);
  CHECK((a0[0] == a0[1] && a0[1] == a0[2] && a0[30] == a0[31]));

  // Independent numbers for the normalization: 255 in channel 0, 0 in channel 2.
  Preprocess p1;
  const uint8_t px[3] = {255, 0, 0};
  float out[3];
  normalize_image(px, 1, p1, out);
  CHECK(out[0] == Approx((1.0 - 0.485) / 0.229).epsilon(1e-6));
  CHECK(out[2] == Approx(-0.406 / 0.225).epsilon(1e-6));

  const ImageSet no_masks = load_images(records, pre, false);
  CHECK_FALSE(no_masks.has_masks());
  CHECK(no_masks.pixels == set.pixels);
}

TEST_CASE("dataset: bad layouts and files give one clear line naming the path", "[data][dataset][bad-input]") {
  TempDir tmp("dataset_bad");
  const std::string dir = tmp.path.string();
  const fs::path cat = make_toy(tmp.path);

  CHECK_THROWS_WITH(scan_split(dir + "/nope", "toy", Split::train),
                    Catch::Contains(dir + "/nope") && Catch::Contains("dataset folder not found"));
  CHECK_THROWS_WITH(scan_split(dir, "carpet", Split::train),
                    Catch::Contains("carpet") && Catch::Contains("category folder not found") &&
                        Catch::Contains("toy"));

  fs::create_directories(tmp.path / "empty/train/good");
  std::ofstream(tmp.path / "empty/train/good/readme.txt") << "x";
  CHECK_THROWS_WITH(scan_split(dir, "empty", Split::train),
                    Catch::Contains("empty/train/good") && Catch::Contains("no images"));
  fs::create_directories(tmp.path / "notrain/test");
  CHECK_THROWS_WITH(scan_split(dir, "notrain", Split::train),
                    Catch::Contains("notrain/train/good") && Catch::Contains("training folder not found"));
  CHECK_THROWS_WITH(scan_split(dir, "notrain", Split::test), Catch::Contains("no defect-type folders"));
  fs::create_directories(tmp.path / "notrain/test/crack");
  CHECK_THROWS_WITH(scan_split(dir, "notrain", Split::test),
                    Catch::Contains("notrain/test/crack") && Catch::Contains("no images"));

  // Missing mask, then a mask of the wrong size.
  fs::remove(cat / "ground_truth/zeta/z0_mask.png");
  CHECK_THROWS_WITH(scan_split(dir, "toy", Split::test),
                    Catch::Contains((cat / "test/zeta/z0.png").string()) && Catch::Contains("no mask") &&
                        Catch::Contains("z0_mask.png"));
  put_png(cat / "ground_truth/zeta/z0_mask.png", Image8(41, 30, 1));
  CHECK_THROWS_WITH(scan_split(dir, "toy", Split::test),
                    Catch::Contains("z0_mask.png") && Catch::Contains("mask is 41x30") && Catch::Contains("40x30"));
  put_png(cat / "ground_truth/zeta/z0_mask.png", Image8(40, 30, 1));

  // A truncated image: its header still scans, decoding fails and names it (also from the parallel loader).
  const fs::path b = cat / "train/good/b.png";
  fs::resize_file(b, fs::file_size(b) / 2);
  const auto train = scan_split(dir, "toy", Split::train);
  CHECK_THROWS_WITH(load_images(train, Preprocess(), false), Catch::Contains(b.string()));
  fs::resize_file(b, 10);  // not even a header
  CHECK_THROWS_WITH(scan_split(dir, "toy", Split::train), Catch::Contains(b.string()));

  Preprocess bad;
  bad.size = 0;
  CHECK_THROWS_AS(load_images({}, bad, false), std::invalid_argument);
}

TEST_CASE("dataset: scan_images takes a folder (recursively), an image or a list file", "[data][dataset]") {
  TempDir tmp("dataset_predict");
  make_toy(tmp.path);
  const fs::path good = tmp.path / "toy/train/good";
  const auto folder = scan_images(good.string());
  CHECK(stems(folder) == std::vector<std::string>{"/a", "/b", "/c"});
  CHECK(scan_images((good / "b.png").string()).size() == 1);
  // A folder is searched recursively (an MVTec test folder holds its images in defect-type subfolders); nested
  // images are named with their subfolders, so output files stay apart.
  CHECK(stems(scan_images((tmp.path / "toy/test").string())) ==
        std::vector<std::string>{"/alpha_a0", "/alpha_a1", "/good_g0", "/zeta_z0"});

  const fs::path list = tmp.path / "list.txt";
  std::ofstream(list) << "# images to score\n\ntoy/test/zeta/z0.png\n  " << (good / "a.png").string() << "  \r\n";
  const auto listed = scan_images(list.string());
  REQUIRE(listed.size() == 2);
  CHECK(listed[0].path == (tmp.path / "toy/test/zeta/z0.png").string());
  CHECK(listed[1].stem == "a");
  CHECK_FALSE(listed[0].anomalous);

  std::ofstream(list) << "toy/test/zeta/z0.png\nmissing.png\n";
  CHECK_THROWS_WITH(scan_images(list.string()), Catch::Contains("list.txt:2") && Catch::Contains("missing.png"));
  std::ofstream(list) << "# nothing\n";
  CHECK_THROWS_WITH(scan_images(list.string()), Catch::Contains("names no images"));
  CHECK_THROWS_WITH(scan_images((tmp.path / "nothing").string()), Catch::Contains("not found"));
  fs::create_directories(tmp.path / "void");
  CHECK_THROWS_WITH(scan_images((tmp.path / "void").string()), Catch::Contains("no images"));
}

TEST_CASE("dataset: the real MVTec bottle scans completely and resizes like PIL", "[data][dataset][mvtec]") {
  const std::string shared = test::shared_dir();
  const std::string data = shared + "/data/mvtec_ad", resized = shared + "/data/mvtec_ad_256";
  STFPM_SKIP_UNLESS(test::path_exists(data + "/bottle") && test::path_exists(resized + "/bottle"),
                    "../shared/data/mvtec_ad/bottle or mvtec_ad_256/bottle not present");
  const auto train = scan_split(data, "bottle", Split::train);
  const auto test = scan_split(data, "bottle", Split::test);
  CHECK(train.size() == 209);
  CHECK(test.size() == 83);
  const auto anomalous = std::count_if(test.begin(), test.end(), [](const ImageRecord& r) { return r.anomalous; });
  CHECK(anomalous == 63);
  CHECK(std::all_of(test.begin(), test.end(), [](const ImageRecord& r) {
    return r.anomalous == !r.mask_path.empty() && r.width == 900 && r.height == 900;
  }));

  // Our decode + resize of a few 900x900 originals against PIL's 256x256 copies, through the loader.
  const std::vector<ImageRecord> some = {train[0], train[208], test[0], test[62]};
  const ImageSet set = load_images(some, Preprocess(), true);
  for (size_t i = 0; i < some.size(); ++i) {
    const ImageRecord& r = some[i];
    const std::string rel = r.path.substr(data.size());
    const Image8 want = read_image_rgb(resized + rel);
    size_t differing = 0;
    const int d = max_abs_diff(set.rgb_image(i), want.data.data(), want.data.size(), &differing);
    std::printf("bottle %-46s max |diff| vs PIL 256 copy %d (%zu values differ)\n", rel.c_str(), d, differing);
    CHECK(d <= 1);
    if (r.anomalous) {
      const std::string mrel = r.mask_path.substr(data.size());
      const Image8 mask = read_image_gray(resized + mrel);
      const int dm = max_abs_diff(set.mask(i), mask.data.data(), mask.data.size(), &differing);
      std::printf("bottle %-46s max |diff| vs PIL 256 copy %d (%zu values differ)\n", mrel.c_str(), dm, differing);
      CHECK(dm <= 1);
    }
  }
}

TEST_CASE("dataset: the grayscale MVTec grid subset loads as three equal channels", "[data][dataset][mvtec]") {
  const std::string data = test::shared_dir() + "/data/mvtec_ad_subset";
  STFPM_SKIP_UNLESS(test::path_exists(data + "/grid"), "../shared/data/mvtec_ad_subset/grid not present");
  CHECK(scan_split(data, "grid", Split::train).size() == 25);
  const auto test = scan_split(data, "grid", Split::test);
  CHECK(test.size() == 14);
  CHECK(std::count_if(test.begin(), test.end(), [](const ImageRecord& r) { return r.anomalous; }) == 11);
  const ImageSet set = load_images({test[0]}, Preprocess(), true);
  const Image8 want = resize_bilinear(read_image_gray(test[0].path), 256, 256);
  bool equal_channels = true;
  for (size_t p = 0; p < set.plane(); ++p)
    for (int c = 0; c < 3; ++c)
      equal_channels = equal_channels && set.rgb_image(0)[p * 3 + size_t(c)] == want.data[p];
  CHECK(equal_channels);
  CHECK(std::count(set.mask(0), set.mask(0) + set.plane(), uint8_t(255)) > 0);
}

TEST_CASE("dataset: masks may be TIFF (or BMP, JPEG, TGA) and named <stem>_mask or <stem>, and TIFF images are found",
          "[data][dataset]") {
  TempDir tmp("dataset_masks");
  const fs::path cat = make_toy(tmp.path);
  const Image8 mask = [] {
    Image8 m(40, 30, 1);
    for (int y = 5; y < 12; ++y)
      for (int x = 3; x < 20; ++x) m.data[size_t(y) * 40 + size_t(x)] = 255;
    return m;
  }();
  // z0: a mask named like its image (z0.png); a1: <stem>_mask.tif; a0 keeps its PNG; z1: a TIFF test image (upper
  // case extension) with a .tiff mask.
  fs::remove(cat / "ground_truth/zeta/z0_mask.png");
  fs::remove(cat / "ground_truth/alpha/a1_mask.png");
  test::write_tiff_image((cat / "ground_truth/alpha/a1_mask.tif").string(), 40, 30, 1, 8,
                         std::vector<uint16_t>(mask.data.begin(), mask.data.end()));
  put_png(cat / "ground_truth/zeta/z0.png", mask);
  const std::vector<uint16_t> pixels(40 * 30 * 3, 90);
  test::write_tiff_image((cat / "test/zeta/z1.TIFF").string(), 40, 30, 3, 8, pixels);
  test::write_tiff_image((cat / "ground_truth/zeta/z1_mask.tiff").string(), 40, 30, 1, 8,
                         std::vector<uint16_t>(mask.data.begin(), mask.data.end()));

  const auto test = scan_split(tmp.path.string(), "toy", Split::test);
  std::vector<std::string> masks;
  for (const ImageRecord& r : test)
    if (r.anomalous) masks.push_back(fs::path(r.mask_path).filename().string());
  CHECK(masks == std::vector<std::string>{"a0_mask.png", "a1_mask.tif", "z0.png", "z1_mask.tiff"});
  const ImageSet set = load_images(test, Preprocess(), true);
  for (size_t i = 0; i < set.count(); ++i) {
    if (!set.records[i].anomalous) continue;
    INFO(set.records[i].mask_path);
    const uint8_t* m = set.mask(i);
    CHECK(*std::max_element(m, m + set.plane()) == 255);
  }

  // A mask under no known name: the message says which names were tried.
  fs::remove(cat / "ground_truth/zeta/z0.png");
  CHECK_THROWS_WITH(scan_split(tmp.path.string(), "toy", Split::test),
                    Catch::Contains("z0_mask.png, or z0_mask or z0 with another image extension"));
}

TEST_CASE("dataset: folder datasets (normal, abnormal and mask folders, a seeded test split)", "[data][dataset]") {
  TempDir tmp("dataset_folders");
  const fs::path root = tmp.path;
  // normal/ with a nested folder, 8 images; abnormal/ with two defect types and one loose image; masks/ flat for
  // one type and per type for the other.
  for (int i = 0; i < 6; ++i) put_png(root / "normal" / ("n" + std::to_string(i) + ".png"), test_image(40, 30, 3, i));
  put_png(root / "normal/sub/n0.png", test_image(40, 30, 3, 20));
  put_png(root / "normal/sub/deeper/x.jpg.png", test_image(40, 30, 1, 21));
  put_png(root / "abnormal/crack/c0.png", test_image(40, 30, 3, 30));
  put_png(root / "abnormal/crack/c1.png", test_image(40, 30, 3, 31));
  put_png(root / "abnormal/dent/d0.png", test_image(40, 30, 3, 32));
  put_png(root / "abnormal/loose.png", test_image(40, 30, 3, 33));
  put_png(root / "masks/c0.png", Image8(40, 30, 1));
  put_png(root / "masks/c1_mask.png", Image8(40, 30, 1));
  put_png(root / "masks/dent/d0.png", Image8(40, 30, 1));
  put_png(root / "masks/loose_mask.png", Image8(40, 30, 1));

  fs::create_symlink("nowhere", root / "normal/.#n0.png");  // an editor's lock file: a hidden dangling link
  FolderDataset d;
  d.normal_dir = (root / "normal").string();
  d.abnormal_dirs = {(root / "abnormal/").string()};
  d.test_split = 0.25;
  const auto train = scan_folders(d, 0, Split::train);
  const auto test = scan_folders(d, 0, Split::test);
  CHECK(train.size() == 6);  // 8 minus round(0.25 * 8)
  std::vector<std::string> normal_test, all;
  for (const ImageRecord& r : test)
    if (!r.anomalous) normal_test.push_back(r.stem);
  CHECK(normal_test.size() == 2);
  for (const ImageRecord& r : train) all.push_back(r.stem);
  all.insert(all.end(), normal_test.begin(), normal_test.end());
  std::sort(all.begin(), all.end());
  CHECK(all == std::vector<std::string>{"n0", "n1", "n2", "n3", "n4", "n5", "sub_deeper_x.jpg", "sub_n0"});
  for (const ImageRecord& r : train) CHECK(r.defect_type == "good");
  // The split is the seed's: the same again, another with another seed (for these names), never the whole set.
  CHECK(stems(scan_folders(d, 0, Split::train)) == stems(train));
  bool differs = false;
  for (uint64_t seed = 1; seed < 5; ++seed) differs |= stems(scan_folders(d, seed, Split::train)) != stems(train);
  CHECK(differs);

  std::vector<std::string> defects;
  for (const ImageRecord& r : test)
    if (r.anomalous) defects.push_back(r.defect_type + "/" + r.stem);
  CHECK(defects == std::vector<std::string>{"abnormal/loose", "crack/c0", "crack/c1", "dent/d0"});
  for (const ImageRecord& r : test) CHECK(r.mask_path.empty());  // no mask_dir: no masks

  d.mask_dir = (root / "masks").string();
  std::vector<std::string> masks;
  for (const ImageRecord& r : scan_folders(d, 0, Split::test))
    if (r.anomalous) masks.push_back(fs::path(r.mask_path).lexically_relative(root).string());
  CHECK(masks == std::vector<std::string>{"masks/loose_mask.png", "masks/c0.png", "masks/c1_mask.png",
                                          "masks/dent/d0.png"});
  fs::remove(root / "masks/dent/d0.png");
  CHECK_THROWS_WITH(scan_folders(d, 0, Split::test),
                    Catch::Contains("d0.png: defect image has no mask") && Catch::Contains("masks/dent"));
  FolderDataset self = d;  // masks looked for among the defective images themselves
  self.mask_dir = (root / "abnormal").string();
  CHECK_THROWS_WITH(scan_folders(self, 0, Split::test), Catch::Contains("is its own mask"));

  // Normal test images from their own folder instead of a split; then the mistakes.
  FolderDataset own = d;
  own.mask_dir.clear();
  own.test_split = 0;
  own.normal_test_dir = (root / "normal/sub").string();
  CHECK(scan_folders(own, 0, Split::train).size() == 8);
  CHECK(scan_folders(own, 0, Split::test).size() == 2 + 4);
  own.test_split = 0.5;
  CHECK_THROWS_WITH(scan_folders(own, 0, Split::test), Catch::Contains("not both"));
  FolderDataset none = own;
  none.test_split = 0;
  none.normal_test_dir.clear();
  CHECK_THROWS_WITH(scan_folders(none, 0, Split::test), Catch::Contains("no normal test images"));
  CHECK(scan_folders(none, 0, Split::train).size() == 8);  // training alone needs no test set
  none.test_split = 0.95;
  CHECK_THROWS_WITH(scan_folders(none, 0, Split::train), Catch::Contains("leaves none for training"));
  none.test_split = 0.25;
  none.abnormal_dirs.clear();
  CHECK_THROWS_WITH(scan_folders(none, 0, Split::test), Catch::Contains("--abnormal_dir"));
  none.normal_dir = (root / "nothing").string();
  CHECK_THROWS_WITH(scan_folders(none, 0, Split::train), Catch::Contains("nothing: normal image folder"));
  fs::create_directories(root / "empty");
  none.normal_dir = (root / "empty").string();
  CHECK_THROWS_WITH(scan_folders(none, 0, Split::train), Catch::Contains("no images"));
}

TEST_CASE("dataset: --val_split holds out a seeded fraction of the training images, apart from --test_split",
          "[data][dataset]") {
  std::vector<ImageRecord> records;
  for (int i = 0; i < 40; ++i) {
    ImageRecord r;
    r.stem = (i < 10 ? "00" : "0") + std::to_string(i);
    r.path = "train/good/" + r.stem + ".png";
    records.push_back(r);
  }
  const ValidationSplit split = split_validation(records, 0.2, 0);
  CHECK(split.validation.size() == 8);
  CHECK(split.train.size() == 32);
  // A partition of the records, in their order, the same again for the same seed.
  std::vector<std::string> all = stems(split.train), held = stems(split.validation);
  all.insert(all.end(), held.begin(), held.end());
  std::sort(all.begin(), all.end());
  CHECK(all == stems(records));
  CHECK(std::is_sorted(held.begin(), held.end()));
  CHECK(stems(split_validation(records, 0.2, 0).validation) == held);
  CHECK(stems(split_validation(records, 0.2, 7).validation) != held);
  // Not the images a test split with the same seed would take (the validation seed is salted).
  std::vector<std::string> keys;
  for (const ImageRecord& r : records) keys.push_back(r.stem);
  const std::vector<bool> test_like = hash_split(keys, 0.2, 0);
  std::vector<std::string> test_stems;
  for (size_t i = 0; i < records.size(); ++i)
    if (test_like[i]) test_stems.push_back("/" + records[i].stem);  // as stems() writes them
  CHECK(test_stems != held);
  // Adding images moves few of the held-out ones: the 8 smallest hashes of 40 stay among the 9 of 45.
  std::vector<ImageRecord> more = records;
  for (int i = 40; i < 45; ++i) {
    ImageRecord r;
    r.stem = "0" + std::to_string(i);
    more.push_back(r);
  }
  const std::vector<std::string> held_more = stems(split_validation(more, 0.2, 0).validation);
  CHECK(held_more.size() == 9);
  size_t kept = 0;
  for (const std::string& s : held) kept += std::count(held_more.begin(), held_more.end(), s);
  CHECK(kept >= 7);

  CHECK(split_validation(records, 0, 0).validation.empty());
  CHECK(split_validation(records, 0.001, 0).validation.size() == 1);  // at least one when asked for
  CHECK_THROWS_WITH(split_validation(std::vector<ImageRecord>(records.begin(), records.begin() + 1), 0.5, 0),
                    Catch::Contains("leaves none for training"));
  CHECK_THROWS_WITH(split_validation(records, 1.0, 0), Catch::Contains("--val_split must be in [0, 1)"));
}
