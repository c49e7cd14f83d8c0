#include <catch2/catch.hpp>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "io/hdf5_io.h"
#include "data/image_io.h"
#include "test_util.h"

using namespace stfpm;
using test::TempDir;
namespace fs = std::filesystem;

namespace {

std::vector<uint8_t> read_u8(const H5Reader& h5, const std::string& name, Shape* shape = nullptr) {
  const std::vector<int64_t> v = h5.read_ints(name, shape);
  return std::vector<uint8_t>(v.begin(), v.end());
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes, size_t count) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(count));
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

int max_abs_diff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  int m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(int(a[i]) - int(b[i])));
  return m;
}

Image8 pattern(int w, int h, int c) {
  Image8 img(w, h, c);
  for (size_t i = 0; i < img.data.size(); ++i) img.data[i] = uint8_t((i * 37 + i / 7) % 256);
  return img;
}

}  // namespace

TEST_CASE("image_io: every format and channel layout decodes as PIL's convert('RGB') / convert('L')",
          "[data][image_io]") {
  H5Reader h5(test::fixture_path("resize_fixture.h5"));
  TempDir tmp("image_io_decode");
  // Exact everywhere but JPEG: stb's IDCT and colour conversion are not libjpeg's (measured: 2 levels for the RGB
  // file, 0 for the gray one).
  struct Case {
    const char* name;
    int max_diff;
  };
  const Case cases[] = {{"gray8_png", 0}, {"gray_alpha8_png", 0}, {"rgb8_png", 0},      {"rgba8_png", 0},
                        {"gray1_png", 0}, {"rgb_bmp", 0},         {"rgb_tga", 0},       {"palette_png", 0},
                        {"palette_trns_png", 0}, {"gray16_png", 0}, {"rgb16_png", 0}, {"rgb_jpg", 2},
                        {"gray_jpg", 1}};
  for (const Case& c : cases) {
    INFO("case " << c.name);
    const std::vector<uint8_t> bytes = read_u8(h5, std::string("decode/") + c.name + "/file");
    const std::string path = tmp.file(c.name);
    write_bytes(path, bytes, bytes.size());
    Shape rgb_shape;
    const std::vector<uint8_t> want_rgb = read_u8(h5, std::string("decode/") + c.name + "/rgb", &rgb_shape);
    const std::vector<uint8_t> want_gray = read_u8(h5, std::string("decode/") + c.name + "/gray");

    const Image8 rgb = read_image_rgb(path);
    const Image8 gray = read_image_gray(path);
    REQUIRE(rgb.channels == 3);
    REQUIRE(gray.channels == 1);
    REQUIRE(rgb.height == rgb_shape[0]);
    REQUIRE(rgb.width == rgb_shape[1]);
    REQUIRE(rgb.data.size() == want_rgb.size());
    REQUIRE(gray.data.size() == want_gray.size());
    const int d_rgb = max_abs_diff(rgb.data, want_rgb), d_gray = max_abs_diff(gray.data, want_gray);
    std::printf("decode %-18s max |diff| vs PIL: rgb %d, gray %d\n", c.name, d_rgb, d_gray);
    CHECK(d_rgb <= c.max_diff);
    CHECK(d_gray <= c.max_diff);

    const ImageInfo info = probe_image(path);
    CHECK(info.width == rgb.width);
    CHECK(info.height == rgb.height);
    CHECK(info.is_16bit == (std::string(c.name).find("16") != std::string::npos));
  }
  CHECK(probe_image(tmp.file("gray_alpha8_png")).channels == 2);
  CHECK(probe_image(tmp.file("rgba8_png")).channels == 4);
}

TEST_CASE("image_io: PIL's rounded luma and RGB expansion", "[data][image_io]") {
  Image8 rgb(5, 1, 3);
  rgb.data = {255, 0, 0, 0, 255, 0, 0, 0, 255, 2, 0, 0, 200, 100, 50};
  const Image8 gray = to_gray(rgb);
  // round(299 R + 587 G + 114 B) / 1000): (2, 0, 0) -> 0.598 -> 1 catches truncation and stb's 8-bit weights.
  CHECK(gray.data == std::vector<uint8_t>{76, 150, 29, 1, 124});

  Image8 ga(2, 1, 2);
  ga.data = {10, 200, 30, 0};
  CHECK(to_rgb(ga).data == std::vector<uint8_t>{10, 10, 10, 30, 30, 30});
  CHECK(to_gray(ga).data == std::vector<uint8_t>{10, 30});
  Image8 rgba(1, 1, 4);
  rgba.data = {1, 2, 3, 0};  // alpha dropped, not blended
  CHECK(to_rgb(rgba).data == std::vector<uint8_t>{1, 2, 3});
}

TEST_CASE("image_io: PNG round trip for 1 to 4 channels", "[data][image_io]") {
  TempDir tmp("image_io_png");
  for (int c = 1; c <= 4; ++c) {
    INFO("channels " << c);
    const Image8 img = pattern(23, 17, c);
    const std::string path = tmp.file("img" + std::to_string(c) + ".png");
    write_png(path, img);
    const ImageInfo info = probe_image(path);
    CHECK(info.width == 23);
    CHECK(info.height == 17);
    CHECK(info.channels == c);
    const Image8 back = c <= 2 ? read_image_gray(path) : read_image_rgb(path);
    if (c == 1 || c == 3) CHECK(back.data == img.data);
    if (c == 2) CHECK(back.data == to_gray(img).data);
    if (c == 4) CHECK(back.data == to_rgb(img).data);
  }
}

TEST_CASE("image_io: unreadable, truncated and unwritable files name the file", "[data][image_io][bad-input]") {
  TempDir tmp("image_io_bad");
  const std::string missing = tmp.file("missing.png");
  CHECK_THROWS_WITH(read_image_rgb(missing), Catch::Contains(missing) && Catch::Contains("No such file"));
  CHECK_THROWS_WITH(probe_image(missing), Catch::Contains(missing));

  const std::string text = tmp.file("notes.png");
  std::ofstream(text) << "this is not an image\n";
  CHECK_THROWS_WITH(read_image_rgb(text), Catch::Contains(text) && Catch::Contains("cannot decode"));
  CHECK_THROWS_WITH(probe_image(text), Catch::Contains(text) && Catch::Contains("not a readable image"));

  // A PNG cut in the middle of its pixel data: the header still probes, decoding fails.
  const std::string good = tmp.file("good.png");
  Image8 noise(64, 64, 3);
  for (size_t i = 0; i < noise.data.size(); ++i) noise.data[i] = uint8_t((i * 2654435761u) >> 13);
  write_png(good, noise);
  const std::vector<uint8_t> bytes = read_bytes(good);
  const std::string half = tmp.file("half.png"), stub = tmp.file("stub.png");
  write_bytes(half, bytes, bytes.size() / 2);
  write_bytes(stub, bytes, 20);
  CHECK(probe_image(half).width == 64);
  CHECK_THROWS_WITH(read_image_rgb(half), Catch::Contains(half) && Catch::Contains("cannot decode"));
  CHECK_THROWS_WITH(read_image_gray(stub), Catch::Contains(stub));
  CHECK_THROWS_WITH(probe_image(stub), Catch::Contains(stub));

  const std::string nowhere = tmp.file("no/such/folder/out.png");
  CHECK_THROWS_WITH(write_png(nowhere, noise), Catch::Contains(nowhere) && Catch::Contains("cannot write PNG"));
  CHECK_THROWS_AS(write_png(tmp.file("empty.png"), Image8()), std::invalid_argument);
}

TEST_CASE("image_io: TIFF images (8-bit gray and RGB, 16-bit gray, LZW) decode through libtiff",
          "[data][image_io]") {
  const TempDir tmp("image_tiff");
  const int w = 7, h = 5;
  std::vector<uint16_t> gray(size_t(w) * h), rgb(size_t(w) * h * 3), deep(size_t(w) * h);
  for (size_t i = 0; i < gray.size(); ++i) {
    gray[i] = uint16_t((i * 37) % 256);
    deep[i] = uint16_t(i * 1601);
    for (size_t c = 0; c < 3; ++c) rgb[i * 3 + c] = uint16_t((i * 11 + c * 80) % 256);
  }
  test::write_tiff_image(tmp.file("gray.tif"), w, h, 1, 8, gray);
  test::write_tiff_image(tmp.file("rgb.tiff"), w, h, 3, 8, rgb, 5 /* LZW */);
  test::write_tiff_image(tmp.file("deep.tif"), w, h, 1, 16, deep);

  const ImageInfo info = probe_image(tmp.file("rgb.tiff"));
  CHECK(info.width == w);
  CHECK(info.height == h);
  CHECK(info.channels == 3);
  CHECK(probe_image(tmp.file("deep.tif")).is_16bit);

  const Image8 g = read_image_gray(tmp.file("gray.tif"));
  REQUIRE(g.channels == 1);
  CHECK(g.data == std::vector<uint8_t>(gray.begin(), gray.end()));
  CHECK(read_image_rgb(tmp.file("gray.tif")).data[3 * 9 + 2] == gray[9]);  // gray replicated
  const Image8 c = read_image_rgb(tmp.file("rgb.tiff"));
  REQUIRE(c.channels == 3);
  CHECK(c.data == std::vector<uint8_t>(rgb.begin(), rgb.end()));
  const Image8 d = read_image_gray(tmp.file("deep.tif"));
  for (size_t i = 0; i < deep.size(); ++i) {
    INFO(i);
    CHECK(d.data[i] == deep[i] >> 8);  // the high byte, as for 16-bit PNGs
  }

  // A truncated TIFF is an error, not an image with blank rows.
  const std::vector<uint8_t> whole = read_bytes(tmp.file("rgb.tiff"));
  write_bytes(tmp.file("cut.tif"), whole, whole.size() / 2);
  CHECK_THROWS_WITH(read_image_rgb(tmp.file("cut.tif")), Catch::Contains(tmp.file("cut.tif") + ": "));
  const std::vector<uint8_t> plain = read_bytes(tmp.file("gray.tif"));  // uncompressed strips
  write_bytes(tmp.file("cut_plain.tif"), plain, plain.size() - 20);
  CHECK_THROWS_WITH(read_image_gray(tmp.file("cut_plain.tif")), Catch::Contains(tmp.file("cut_plain.tif") + ": "));

  // A float map (what `--save_maps` writes) is not an image: refused with libtiff's reason.
  std::ofstream(tmp.file("text.tif")) << "II*\0 not really";
  CHECK_THROWS_WITH(read_image_rgb(tmp.file("text.tif")), Catch::Contains(tmp.file("text.tif") + ": "));
}
