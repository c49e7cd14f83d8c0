// Float TIFF anomaly maps (MVTec AD evaluation layout) and the bilinear map resize.
#include <catch2/catch.hpp>

#include <tiffio.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "test_util.h"
#include "io/tiff_io.h"

using namespace stfpm;
namespace fs = std::filesystem;

namespace {

// Writes a TIFF with an arbitrary sample layout straight through libtiff, for the reader's error paths.
void write_raw_tiff(const std::string& path, uint16_t channels, uint16_t bits, uint16_t format) {
  TIFF* t = TIFFOpen(path.c_str(), "w");
  REQUIRE(t);
  const uint32_t w = 4, h = 2;
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
  TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, channels);
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, bits);
  TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, format);
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC, channels == 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
  TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
  std::vector<uint8_t> row(size_t(w) * channels * bits / 8, 7);
  for (uint32_t y = 0; y < h; ++y) REQUIRE(TIFFWriteScanline(t, row.data(), y, 0) == 1);
  TIFFClose(t);
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("tiff: float maps round-trip bit for bit, special values included", "[report][tiff]") {
  const test::TempDir tmp("tiff_roundtrip");
  const std::string dir = tmp.path.string();
  const int w = 7, h = 5;
  std::vector<float> data = test::random_vector(size_t(w * h), 11, -3.0f, 3.0f);
  data[0] = -0.0f;
  data[1] = std::numeric_limits<float>::denorm_min();
  data[2] = std::numeric_limits<float>::infinity();
  data[3] = -std::numeric_limits<float>::max();
  data[4] = std::numeric_limits<float>::quiet_NaN();
  write_tiff_float(dir + "/map.tiff", data.data(), w, h);
  CHECK_FALSE(fs::exists(dir + "/map.tiff.tmp"));
  const FloatImage back = read_tiff_float(dir + "/map.tiff");
  CHECK(back.width == w);
  CHECK(back.height == h);
  CHECK(bitwise_equal(back.data, data));
  // A rectangular map must not come back transposed: check one off-diagonal pixel by position.
  CHECK(back.data[size_t(1 * w + 6)] == data[size_t(1 * w + 6)]);
}

TEST_CASE("tiff: MVTec layout path, folders created, map resized to the original size", "[report][tiff]") {
  const test::TempDir tmp("tiff_mvtec");
  const std::string dir = tmp.path.string();
  const std::string path = mvtec_tiff_path(dir, "bottle", "broken_large", "000");
  CHECK(path == dir + "/bottle/test/broken_large/000.tiff");
  const std::vector<float> map = {0.0f, 1.0f, 2.0f, 3.0f};  // 2x2
  write_anomaly_map_tiff(path, map.data(), 2, 2, 6, 3);
  const FloatImage back = read_tiff_float(path);
  REQUIRE(back.width == 6);
  REQUIRE(back.height == 3);
  CHECK(bitwise_equal(back.data, resize_map_bilinear(map.data(), 2, 2, 6, 3)));
  // Same size: written unchanged.
  write_anomaly_map_tiff(path, map.data(), 2, 2, 2, 2);
  CHECK(bitwise_equal(read_tiff_float(path).data, map));
}

TEST_CASE("tiff: clear errors name the file and what is wrong", "[report][tiff][bad-input]") {
  const test::TempDir tmp("tiff_errors");
  const std::string dir = tmp.path.string();
  const std::vector<float> map(6, 1.0f);

  CHECK_THROWS_WITH(read_tiff_float(dir + "/missing.tiff"),
                    Catch::Contains(dir + "/missing.tiff") && Catch::Contains("cannot open"));
  {
    std::FILE* f = std::fopen((dir + "/text.tiff").c_str(), "w");
    std::fputs("this is not a TIFF file\n", f);
    std::fclose(f);
  }
  CHECK_THROWS_WITH(read_tiff_float(dir + "/text.tiff"),
                    Catch::Contains(dir + "/text.tiff") && Catch::Contains("not a readable TIFF"));
  write_raw_tiff(dir + "/u8.tiff", 1, 8, SAMPLEFORMAT_UINT);
  CHECK_THROWS_WITH(read_tiff_float(dir + "/u8.tiff"),
                    Catch::Contains(dir + "/u8.tiff") && Catch::Contains("expected 32-bit float samples, found 8-bit"));
  write_raw_tiff(dir + "/rgb.tiff", 3, 32, SAMPLEFORMAT_IEEEFP);
  CHECK_THROWS_WITH(read_tiff_float(dir + "/rgb.tiff"), Catch::Contains("single-channel") && Catch::Contains("3"));

  // Truncated: keep the header, drop most of the pixel data.
  write_tiff_float(dir + "/full.tiff", test::random_vector(64 * 64, 3).data(), 64, 64);
  fs::copy_file(dir + "/full.tiff", dir + "/cut.tiff");
  fs::resize_file(dir + "/cut.tiff", 2000);
  CHECK_THROWS_WITH(read_tiff_float(dir + "/cut.tiff"), Catch::Contains(dir + "/cut.tiff"));

  // Unwritable destinations: a missing folder, and a folder that cannot be created because a file is in the way.
  CHECK_THROWS_WITH(write_tiff_float(dir + "/no/such/dir/x.tiff", map.data(), 3, 2),
                    Catch::Contains(dir + "/no/such/dir/x.tiff") && Catch::Contains("cannot write"));
  CHECK_THROWS_WITH(write_anomaly_map_tiff(dir + "/full.tiff/sub/x.tiff", map.data(), 3, 2, 3, 2),
                    Catch::Contains(dir + "/full.tiff/sub/x.tiff") && Catch::Contains("cannot create folder"));
  CHECK_THROWS_AS(write_tiff_float(dir + "/empty.tiff", map.data(), 0, 2), std::invalid_argument);
}

TEST_CASE("resize_map_bilinear: hand-computed align_corners=false cases", "[report][resize]") {
  // 2 -> 4 along x: source coordinates (o + 0.5) / 2 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (right
  // neighbour clamped), so [0, 1] becomes [0, 0.25, 0.75, 1].
  const std::vector<float> row = {0.0f, 1.0f};
  CHECK(resize_map_bilinear(row.data(), 2, 1, 4, 1) == std::vector<float>({0.0f, 0.25f, 0.75f, 1.0f}));
  // The same in 2-D: out(y, x) = a(y) * 10 + a(x) with a = [0, .25, .75, 1], since the input is 10 y + x.
  const std::vector<float> sq = {0.0f, 1.0f, 10.0f, 11.0f};
  const std::vector<float> up = resize_map_bilinear(sq.data(), 2, 2, 4, 4);
  const float a[4] = {0.0f, 0.25f, 0.75f, 1.0f};
  std::vector<float> expected;
  for (float ay : a)
    for (float ax : a) expected.push_back(10.0f * ay + ax);
  CHECK(test::all_close("up2x", up, expected, 1e-6, 0.0));
  // 4 -> 2: source coordinates 0.5 and 2.5, the mean of each pair (no antialiasing, as F.interpolate).
  const std::vector<float> four = {0.0f, 2.0f, 10.0f, 30.0f};
  CHECK(resize_map_bilinear(four.data(), 4, 1, 2, 1) == std::vector<float>({1.0f, 20.0f}));
  // Same size is the identity; a constant map stays constant at any size.
  const std::vector<float> rnd = test::random_vector(15, 5);
  CHECK(bitwise_equal(resize_map_bilinear(rnd.data(), 5, 3, 5, 3), rnd));
  const std::vector<float> c(12, 0.3f);
  for (float v : resize_map_bilinear(c.data(), 4, 3, 900, 7)) REQUIRE(std::fabs(v - 0.3f) <= 1e-7f);
  CHECK_THROWS_AS(resize_map_bilinear(c.data(), 4, 3, 0, 7), std::invalid_argument);
}

TEST_CASE("resize_map_bilinear: matches PyTorch F.interpolate(bilinear, align_corners=False)", "[report][resize]") {
  // x[j][i] = float32((i*i % 7) * 0.37 - 1.3 j) for a 4x3 map; the expected values are, as hex floats,
  // F.interpolate(x[None, None], size=(h, w), mode='bilinear', align_corners=False) from PyTorch 1.13 (CPU).
  const std::vector<float> x = {
      0.0f,            0x1.7ae148p-2f,  0x1.7ae148p+0f,  0x1.7ae148p-1f,
      -0x1.4cccccp+0f, -0x1.dc28f6p-1f, 0x1.70a3d8p-3f,  -0x1.1eb852p-1f,
      -0x1.4cccccp+1f, -0x1.1d70a4p+1f, -0x1.1eb852p+0f, -0x1.dc28f6p+0f};
  const std::vector<float> up_7x5 = {
      0.0f,            0x1.0ea0ecp-3f,  0x1.5fd132p-2f,  0x1.d9999ep-1f,  0x1.6d593cp+0f,  0x1.0118dcp+0f,
      0x1.7ae148p-1f,  -0x1.0a3d72p-1f, -0x1.8d2a6ap-2f, -0x1.695364p-3f, 0x1.9eb858p-2f,  0x1.d07506p-1f,
      0x1.efe88cp-2f,  0x1.c28f56p-3f,  -0x1.4ccccep+0f, -0x1.2af8aep+0f, -0x1.e9b104p-1f, -0x1.7ffffcp-2f,
      0x1.046366p-3f,  -0x1.2ecfc6p-2f, -0x1.1eb854p-1f, -0x1.0a3d7p+1f,  -0x1.f2a6c4p+0f, -0x1.bc8698p+0f,
      -0x1.27ae14p+0f, -0x1.4e435p-1f,  -0x1.136206p+0f, -0x1.570a4p+0f,  -0x1.4cccccp+1f, -0x1.3be2bcp+1f,
      -0x1.20d2a8p+1f, -0x1.accccap+0f, -0x1.2c406p+0f,  -0x1.9880bep+0f, -0x1.dc28f6p+0f};
  const std::vector<float> down_3x2 = {-0x1.0da74p-2f,  0x1.333336p-1f,  0x1.13a06ap-1f,
                                       -0x1.1b4e82p+1f, -0x1.599998p+0f, -0x1.6962fep+0f};
  // The rounding order differs from PyTorch's kernel (about one float ulp, 1.2e-7 relative).
  CHECK(test::all_close("upsample 4x3 -> 7x5", resize_map_bilinear(x.data(), 4, 3, 7, 5), up_7x5, 1e-7, 3e-7));
  CHECK(test::all_close("downsample 4x3 -> 3x2", resize_map_bilinear(x.data(), 4, 3, 3, 2), down_3x2, 1e-7, 3e-7));
}
