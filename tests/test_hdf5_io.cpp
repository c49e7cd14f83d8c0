#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

#include "io/hdf5_io.h"
#include "test_util.h"

using namespace stfpm;

namespace {
std::string temp_file(const std::string& name) { return "/tmp/stfpm_test_" + name; }
}  // namespace

TEST_CASE("hdf5: tensors and attributes round-trip, nested names create groups", "[hdf5]") {
  const std::string path = temp_file("roundtrip.h5");
  std::vector<float> w = {1.5f, -2.0f, 3.25f, 0.0f, 5.0f, 6.0f};
  std::vector<double> d = {0.1, 0.2};
  std::vector<int64_t> ints = {7, -8, 9};
  {
    H5Writer out(path);
    out.write("layer1.0.conv1.weight", Shape{2, 3}, w.data());
    out.write("optimizer/momentum/conv1.weight", Shape{3, 2}, w.data());
    out.write("scores", Shape{2}, d.data());
    out.write("labels", Shape{3}, ints.data());
    out.set_attr("epoch", int64_t(12));
    out.set_attr("lr", 0.4);
    out.set_attr("category", std::string("bottle"));
    out.commit();
  }
  H5Reader in(path);
  CHECK(in.has("layer1.0.conv1.weight"));
  CHECK(in.has("optimizer/momentum/conv1.weight"));
  CHECK_FALSE(in.has("optimizer/missing/x"));
  CHECK(in.shape("layer1.0.conv1.weight") == Shape{2, 3});
  CHECK(in.read_floats("layer1.0.conv1.weight", Shape{2, 3}) == w);
  CHECK(in.read_floats("optimizer/momentum/conv1.weight") == w);
  CHECK(in.read_doubles("scores") == d);
  CHECK(in.read_ints("labels") == ints);
  CHECK(in.attr_int("epoch") == 12);
  CHECK(in.attr_double("lr") == 0.4);
  CHECK(in.attr_string("category") == "bottle");
  std::remove(path.c_str());
}

TEST_CASE("hdf5: clear errors name the file and the tensor", "[hdf5][bad-input]") {
  const std::string path = temp_file("errors.h5");
  std::vector<float> w(6, 1.0f);
  {
    H5Writer out(path);
    out.write("conv1.weight", Shape{2, 3}, w.data());
    out.commit();
  }
  H5Reader in(path);
  CHECK_THROWS_WITH(in.read_floats("bn1.weight"), Catch::Contains(path) && Catch::Contains("missing tensor 'bn1.weight'"));
  CHECK_THROWS_WITH(in.read_floats("conv1.weight", Shape{3, 2}),
                    Catch::Contains("has shape (2, 3), expected (3, 2)"));
  CHECK_THROWS_WITH(H5Reader("/nonexistent/x.h5"), Catch::Contains("/nonexistent/x.h5"));

  const std::string junk = temp_file("junk.h5");
  FILE* f = std::fopen(junk.c_str(), "wb");
  std::fputs("not hdf5 at all", f);
  std::fclose(f);
  CHECK_THROWS_WITH(H5Reader(junk), Catch::Contains("not an HDF5 file"));
  CHECK_THROWS_WITH(H5Writer("/nonexistent-dir/out.h5"), Catch::Contains("cannot create"));
  std::remove(path.c_str());
  std::remove(junk.c_str());
}

TEST_CASE("hdf5: an uncommitted writer leaves nothing behind", "[hdf5]") {
  const std::string path = temp_file("uncommitted.h5");
  std::remove(path.c_str());
  {
    H5Writer out(path);
    std::vector<float> w(4, 2.0f);
    out.write("x", Shape{4}, w.data());
  }
  CHECK_FALSE(test::path_exists(path));
  CHECK_FALSE(test::path_exists(path + ".tmp"));
}

TEST_CASE("hdf5: text attributes written by h5py (variable-length UTF-8, fixed-length) read back whole", "[hdf5]") {
  // Made by h5py (tests/data/README.md): 'vlen_utf8' as h5py writes str, 'fixed_exact' as np.bytes_ of exactly
  // its length, with no room for a terminating NUL.
  H5Reader in(test::fixture_path("h5py_strings.h5"));
  CHECK(in.attr_string("vlen_utf8") == "ImageNet résumé");
  CHECK(in.attr_string("fixed_exact") == "1.13.0a0");
}
