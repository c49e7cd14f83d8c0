#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "io/hdf5_io.h"
#include "data/resize.h"
#include "test_util.h"

using namespace stfpm;

namespace {

Image8 read_image(const H5Reader& h5, const std::string& name) {
  Shape shape;
  const std::vector<int64_t> v = h5.read_ints(name, &shape);
  REQUIRE((shape.rank() == 2 || shape.rank() == 3));
  Image8 img{int(shape[1]), int(shape[0]), shape.rank() == 3 ? int(shape[2]) : 1};
  img.data.assign(v.begin(), v.end());
  return img;
}

}  // namespace

TEST_CASE("resize: matches PIL's Image.resize(BILINEAR) on the fixture", "[data][resize]") {
  H5Reader h5(test::fixture_path("resize_fixture.h5"));
  // The case names of tools/make_resize_fixture.py: downscaling by 3.5 and 4, odd sizes, upscaling, mixed axes,
  // gray and RGB, a binary mask.
  const char* cases[] = {"rgb_900_to_256",       "rgb_333x517_to_256",     "gray_1024_to_256",
                         "rgb_50x70_to_150x210", "gray_70x50_to_256",      "rgb_300x200_to_256x300",
                         "mask_900_to_256",      "rgb_517x333_to_128"};
  for (const char* name : cases) {
    INFO("case " << name);
    const Image8 in = read_image(h5, std::string("resize/") + name + "/input");
    const Image8 want = read_image(h5, std::string("resize/") + name + "/output");
    REQUIRE(in.channels == want.channels);
    const Image8 got = resize_bilinear(in, want.width, want.height);
    REQUIRE(got.width == want.width);
    REQUIRE(got.height == want.height);
    REQUIRE(got.channels == want.channels);
    int max_diff = 0;
    size_t differing = 0;
    for (size_t i = 0; i < got.data.size(); ++i) {
      const int d = std::abs(int(got.data[i]) - int(want.data[i]));
      max_diff = std::max(max_diff, d);
      differing += d != 0;
    }
    std::printf("resize %-24s %4dx%-4d -> %3dx%-3d x%d: max |diff| %d, %zu of %zu values differ%s\n", name,
                in.width, in.height, got.width, got.height, got.channels, max_diff, differing, got.data.size(),
                max_diff == 0 ? " (bit-exact)" : "");
    CHECK(max_diff <= 1);  // the contract: within 1/255 of PIL
    CHECK(differing == 0);  // what we achieve: bit-exact (a rounding slip changes a few values by 1)
  }
}

TEST_CASE("resize: identity, constant images and argument checks", "[data][resize]") {
  Image8 img(37, 23, 3);
  for (size_t i = 0; i < img.data.size(); ++i) img.data[i] = uint8_t(i * 7919 % 251);
  CHECK(resize_bilinear(img, 37, 23).data == img.data);

  // Normalized weights: a constant image stays exactly constant at any scale, in either direction.
  for (int v : {0, 1, 128, 254, 255}) {
    Image8 flat(91, 57, 1);
    std::fill(flat.data.begin(), flat.data.end(), uint8_t(v));
    for (auto size : {std::pair<int, int>{13, 9}, {91, 200}, {300, 20}, {1, 1}}) {
      const Image8 out = resize_bilinear(flat, size.first, size.second);
      REQUIRE(out.data.size() == size_t(size.first) * size_t(size.second));
      CHECK(std::all_of(out.data.begin(), out.data.end(), [v](uint8_t x) { return x == v; }));
    }
  }

  // Separable: an image whose rows are all equal resizes to rows that all equal the resized single row.
  Image8 row(37, 1, 3), rows(37, 29, 3);
  for (size_t i = 0; i < row.data.size(); ++i) row.data[i] = uint8_t(i * 7919 % 251);
  for (int y = 0; y < rows.height; ++y) std::copy(row.data.begin(), row.data.end(), rows.row(y));
  for (auto size : {std::pair<int, int>{11, 7}, {80, 64}, {37, 5}}) {
    const Image8 one = resize_bilinear(row, size.first, 1);
    const Image8 all = resize_bilinear(rows, size.first, size.second);
    for (int y = 0; y < all.height; ++y) CHECK(std::equal(one.data.begin(), one.data.end(), all.row(y)));
  }

  CHECK_THROWS_AS(resize_bilinear(img, 0, 10), std::invalid_argument);
  CHECK_THROWS_AS(resize_bilinear(Image8(), 10, 10), std::invalid_argument);
}
