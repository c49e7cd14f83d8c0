#include <catch2/catch.hpp>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "fixture_params.h"
#include "io/hdf5_io.h"
#include "test_util.h"

using namespace stfpm;
using namespace stfpm::test;

namespace {

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

std::vector<float> gather(const std::vector<float>& values, const std::vector<int64_t>& indices) {
  std::vector<float> out;
  for (int64_t i : indices) out.push_back(values.at(size_t(i)));
  return out;
}

}  // namespace

TEST_CASE("fixture_params: splitmix64 and fnv1a64 match their published test vectors", "[fixture]") {
  // splitmix64's first three outputs for state 0 (the state advances by the golden-ratio increment per call).
  CHECK(splitmix64(0) == 0xE220A8397B1DCDAFull);
  CHECK(splitmix64(0x9E3779B97F4A7C15ull) == 0x6E789E6AA1B965F4ull);
  CHECK(splitmix64(0x3C6EF372FE94F82Aull) == 0x06C45D188009454Full);
  CHECK(fnv1a64("") == 0xCBF29CE484222325ull);
  CHECK(fnv1a64("a") == 0xAF63DC4C8601EC8Cull);
  CHECK(fnv1a64("foobar") == 0x85944171F73967E8ull);
}

TEST_CASE("fixture_params: the C++ generator reproduces every probe of the PyTorch fixture bit for bit", "[fixture]") {
  const std::string path = fixture_path("resnet18_reference.h5");
  REQUIRE(path_exists(path));
  H5Reader in(path);
  const std::vector<std::string> names = split_commas(in.attr_string("tensor_names"));
  REQUIRE(names.size() == 75);
  const uint64_t teacher_seed = uint64_t(in.attr_int("teacher_seed"));
  const uint64_t student_seed = uint64_t(in.attr_int("student_seed"));
  for (const std::string& name : names) {
    Shape shape(in.read_ints("probe_shape/" + name));
    const std::vector<int64_t> index = in.read_ints("probe_index/" + name);
    REQUIRE(index.size() >= 3);
    REQUIRE(index.back() == shape.numel() - 1);  // the last element is among the probes
    // Zero tolerance: the two generators must agree exactly.
    CHECK(all_close("teacher " + name, gather(fixture_values(name, shape, teacher_seed), index),
                    in.read_floats("probe/teacher/" + name), 0.0, 0.0));
    CHECK(all_close("student " + name, gather(fixture_values(name, shape, student_seed), index),
                    in.read_floats("probe/student/" + name), 0.0, 0.0));
  }
  Shape input_shape;
  const std::vector<float> input = in.read_floats("input", &input_shape);
  CHECK(input_shape == Shape{in.attr_int("batch"), 3, in.attr_int("height"), in.attr_int("width")});
  CHECK(all_close("input", fixture_values("input", input_shape, uint64_t(in.attr_int("input_seed"))), input, 0.0, 0.0));
}

TEST_CASE("fixture_params: value rules by tensor kind, ranges, and unknown names", "[fixture]") {
  const Shape conv{64, 3, 7, 7};
  const std::vector<float> w = fixture_values("conv1.weight", conv, 1);
  REQUIRE(w.size() == size_t(conv.numel()));
  const float scale = float(std::sqrt(6.0 / (64 * 7 * 7)));
  CHECK(max_abs(w) < scale);
  CHECK(max_abs(w) > 0.99 * scale);
  CHECK(w[5] == (2.0f * fixture_uniform("conv1.weight", 1, 5) - 1.0f) * scale);

  const float u = fixture_uniform("bn1.weight", 7, 3);
  CHECK(u >= 0.0f);
  CHECK(u < 1.0f);
  CHECK(fixture_values("bn1.weight", Shape{8}, 7)[3] == 0.5f + u);
  CHECK(fixture_values("bn1.running_var", Shape{8}, 7)[3] == 0.5f + fixture_uniform("bn1.running_var", 7, 3));
  CHECK(fixture_values("bn1.bias", Shape{8}, 7)[2] == 0.2f * (2.0f * fixture_uniform("bn1.bias", 7, 2) - 1.0f));
  CHECK(fixture_values("bn1.running_mean", Shape{8}, 7)[1] ==
        0.1f * (2.0f * fixture_uniform("bn1.running_mean", 7, 1) - 1.0f));
  CHECK(fixture_values("input", Shape{1, 1, 2, 2}, 3)[0] == 2.0f * (2.0f * fixture_uniform("input", 3, 0) - 1.0f));
  // Name and seed both select the stream.
  CHECK(fixture_uniform("bn1.weight", 7, 3) != fixture_uniform("bn1.weight", 8, 3));
  CHECK(fixture_uniform("bn1.weight", 7, 3) != fixture_uniform("bn2.weight", 7, 3));

  CHECK_THROWS_WITH(fixture_values("fc.weight", Shape{10, 512}, 1), Catch::Contains("'fc.weight'"));
  CHECK_THROWS_AS(fixture_values("layer1.0.conv1.kernel", Shape{3}, 1), std::invalid_argument);
}
