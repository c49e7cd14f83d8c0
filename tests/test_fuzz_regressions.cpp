// The inputs that once crashed a fuzz target (tests/data/fuzz_regressions/<target>/, found by tools/fuzz.sh),
// replayed through the targets' own code in every build (under ASan + UBSan in tools/test_sanitize.sh), and the
// fix behind each one checked by what the loader now says.
#include <catch2/catch.hpp>

#include <hdf5.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/image_io.h"
#include "fuzz_targets.h"
#include "io/hdf5_io.h"
#include "io/tiff_io.h"
#include "test_util.h"

using namespace stfpm;
namespace fs = std::filesystem;

namespace {

const fs::path kRegressions = fs::path(STFPM_TEST_DATA_DIR) / "fuzz_regressions";

std::vector<fs::path> inputs(const std::string& target) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(kRegressions / target)) out.push_back(e.path());
  return out;
}

// A regression input as the file its target hands to the loader: without the target's leading parameter bytes.
std::string as_file(const test::TempDir& tmp, const std::string& target, const std::string& name, size_t skip) {
  const std::string bytes = test::read_text((kRegressions / target / name).string());
  REQUIRE(bytes.size() > skip);
  const std::string path = tmp.file(name);
  std::ofstream(path, std::ios::binary) << bytes.substr(skip);
  return path;
}

}  // namespace

TEST_CASE("fuzz regressions: every kept input runs through its target cleanly", "[fuzz][bad-input]") {
  const std::vector<std::pair<std::string, void (*)(const uint8_t*, size_t)>> targets = {
      {"image", stfpm_fuzz::run_image}, {"mask", stfpm_fuzz::run_mask}, {"tiff", stfpm_fuzz::run_tiff},
      {"hdf5", stfpm_fuzz::run_hdf5}};
  for (const auto& [target, run] : targets) {
    const std::vector<fs::path> files = inputs(target);
    CHECK_FALSE(files.empty());
    for (const fs::path& file : files) {
      INFO(file.string());
      const std::string bytes = test::read_text(file.string());
      run(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());  // a crash ends the test binary
    }
  }
}

TEST_CASE("fuzz regressions: JPEG Huffman tables with more than 256 codes are refused before stb reads them",
          "[fuzz][bad-input]") {
  // stb_image writes past its table for such a DHT segment, in the decoder and in the header probe alike.
  const test::TempDir tmp("fuzz_jpeg");
  for (const char* name : {"jpeg_huffman_counts_over_256", "jpeg_huffman_counts_over_256_in_header",
                           "jpeg_huffman_counts_over_256_after_fill_bytes"}) {
    const std::string path = as_file(tmp, "image", name, 1);
    INFO(name);
    const std::string refused =
        path + ": cannot decode image (corrupt JPEG: a Huffman table with more than 256 codes)";
    CHECK_THROWS_WITH(probe_image(path), refused);
    CHECK_THROWS_WITH(read_image_rgb(path), refused);
    CHECK_THROWS_WITH(read_image_gray(path), refused);
  }
}

TEST_CASE("fuzz regressions: a JPEG scan naming a Huffman table that no DHT defines is refused, valid JPEGs still load",
          "[fuzz][bad-input]") {
  // stb decoded such a scan with uninitialized tables (a wild read, found by fuzz_image but only reproducible
  // with the heap's contents of the moment): here the seed baseline JPEG with its DHT segments removed.
  const test::TempDir tmp("fuzz_jpeg_tables");
  const std::string path = as_file(tmp, "image", "jpeg_scan_with_undefined_huffman_table", 1);
  CHECK_THROWS_WITH(read_image_rgb(path),
                    path + ": cannot decode image (corrupt JPEG: a scan uses a Huffman table that no DHT segment "
                           "defines)");
  // Baseline, progressive (DC scans name AC table 0 before any AC table exists) and gray seeds still decode.
  for (const char* seed : {"rgb.jpg", "progressive.jpg", "gray.jpg"}) {
    INFO(seed);
    const std::string bytes = test::read_text(std::string(STFPM_SOURCE_DIR) + "/fuzz/corpus/image/" + seed);
    const std::string file = tmp.file(seed);
    std::ofstream(file, std::ios::binary) << bytes.substr(1);
    const Image8 image = read_image_rgb(file);
    CHECK(image.width == 8);
    CHECK(image.height == 6);
  }
}

TEST_CASE("fuzz regressions: an image header declaring more pixels than its file can hold is refused",
          "[fuzz][bad-input]") {
  // A 90-byte TGA declaring 9427x10030 pixels: stb would decode 378 MB of blank image from it.
  const test::TempDir tmp("fuzz_tga");
  const std::string path = as_file(tmp, "image", "tga_header_declaring_94_megapixels", 1);
  const std::string refused = path + ": the header declares 9427x10030 pixels but the file has only 89 bytes "
                                     "(truncated or corrupt)";
  CHECK_THROWS_WITH(probe_image(path), refused);
  CHECK_THROWS_WITH(read_image_rgb(path), refused);
}

TEST_CASE("fuzz regressions: PNM header numbers past 2^31 and negative BMP sizes are refused", "[fuzz][bad-input]") {
  // stb accumulates PNM header numbers in an int (signed overflow) and returns abs(INT_MIN) as a BMP height.
  const test::TempDir tmp("fuzz_headers");
  const std::string pnm = as_file(tmp, "image", "pnm_header_number_past_2_31", 1);
  CHECK_THROWS_WITH(read_image_rgb(pnm), pnm + ": cannot decode image (corrupt PNM header: a number too large)");
  const std::string bmp = as_file(tmp, "mask", "bmp_height_minus_2_31", 3);
  CHECK_THROWS_WITH(probe_image(bmp), Catch::Contains(bmp + ": the header declares an image of ") &&
                                          Catch::Contains("x-2147483648 pixels (corrupt)"));
  // 55 bytes of BMP declaring 35 x -16777204 pixels, which took stb more than 10 s under the sanitizers.
  const std::string slow = as_file(tmp, "mask", "bmp_slow_55_bytes", 3);
  CHECK_THROWS_WITH(read_image_gray(slow), Catch::Contains(": the header declares an image of 35x-16777204 pixels"));
}

TEST_CASE("fuzz regressions: a corrupt PNG mask with an empty image-data chunk is refused", "[fuzz][bad-input]") {
  // stb passed a null pointer to memcpy for the empty chunk (harmless undefined behaviour, fuzz/CMakeLists.txt).
  const test::TempDir tmp("fuzz_mask");
  const std::string path = as_file(tmp, "mask", "png_empty_idat", 3);
  CHECK_THROWS_WITH(load_mask(path, "image.png", 8, 8, 16), Catch::Contains(path + ": cannot decode image"));
}

TEST_CASE("fuzz regressions: a TIFF header declaring a huge map fails without taking its memory",
          "[fuzz][bad-input]") {
  // 150 bytes declaring 65536x32768 floats (8 GiB), compressed with an unknown scheme.
  const test::TempDir tmp("fuzz_tiff");
  const std::string path = as_file(tmp, "tiff", "header_declaring_65536x32768_in_150_bytes", 0);
  CHECK_THROWS_WITH(read_tiff_float(path), Catch::Contains(path) && Catch::Contains("unsupported image size"));
}

TEST_CASE("fuzz regressions: scalar attribute reads refuse arrays, tensors declaring huge shapes are refused",
          "[fuzz][bad-input]") {
  // A checkpoint's 'layers' is an array: reading it as one number wrote three into a one-value buffer.
  const std::string checkpoint = (kRegressions / "hdf5" / "scalar_attribute_with_several_values").string();
  const H5Reader in(checkpoint);
  CHECK_THROWS_WITH(in.attr_int("layers"), Catch::Contains("attribute 'layers' holds 3 values, expected one"));
  CHECK_THROWS_WITH(in.attr_double("mean"), Catch::Contains("attribute 'mean' holds 3 values, expected one"));
  CHECK_THROWS_WITH(in.attr_uint("alphas"), Catch::Contains("holds 3 values"));
  CHECK_THROWS_WITH(in.attr_int("category"), Catch::Contains("attribute 'category' is not a number"));
  CHECK(in.attr_ints("layers") == std::vector<int64_t>{1, 2, 3});
  CHECK(in.attr_int("epoch") == 1);

  // An array of strings read as one string, and a tensor declaring 2^40 elements in a file of a few kilobytes
  // (unwritten data reads as fill values, so nothing in the file bounds it).
  const test::TempDir tmp("fuzz_hdf5");
  const std::string path = tmp.file("crafted.h5");
  {
    const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(file >= 0);
    const hsize_t two = 2, huge[2] = {hsize_t(1) << 20, hsize_t(1) << 20}, chunk[2] = {64, 64};
    const hid_t strings = H5Tcopy(H5T_C_S1);
    H5Tset_size(strings, 4);
    const hid_t list = H5Screate_simple(1, &two, nullptr);
    const hid_t attribute = H5Acreate2(file, "names", strings, list, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(attribute, strings, "abcdefgh");
    const hid_t space = H5Screate_simple(2, huge, nullptr);
    const hid_t layout = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(layout, 2, chunk);
    const hid_t dataset = H5Dcreate2(file, "huge", H5T_NATIVE_FLOAT, space, H5P_DEFAULT, layout, H5P_DEFAULT);
    REQUIRE(dataset >= 0);
    H5Dclose(dataset);
    H5Pclose(layout);
    H5Sclose(space);
    H5Aclose(attribute);
    H5Sclose(list);
    H5Tclose(strings);
    H5Fclose(file);
  }
  const H5Reader crafted(path);
  CHECK_THROWS_WITH(crafted.attr_string("names"), Catch::Contains("attribute 'names' holds 2 values, expected one"));
  CHECK_THROWS_WITH(crafted.shape("huge"), Catch::Contains("tensor 'huge' is too large"));
  CHECK_THROWS_WITH(crafted.read_floats("huge"), Catch::Contains("tensor 'huge' is too large"));
}
