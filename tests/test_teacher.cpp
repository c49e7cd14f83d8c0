// The teacher through the C++ loader: a file made by tools/convert_weights.py from a torch.save'd .pth (unfolded
// BatchNorm), and the real ImageNet teacher of ../shared (BatchNorm folded) on a real MVTec bottle image; both
// against PyTorch's features for the same input.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "cpu/cpu_backend.h"
#include "data/dataset.h"
#include "io/hdf5_io.h"
#include "data/image_io.h"
#include "model/resnet18.h"
#include "test_util.h"

using namespace stfpm;

namespace {

std::vector<float> download(Backend& backend, const float* p, size_t count) {
  std::vector<float> host(count);
  backend.download(host.data(), p, count);
  return host;
}

double l2(const std::vector<float>& v) {
  double s = 0.0;
  for (float x : v) s += double(x) * x;
  return std::sqrt(s);
}

}  // namespace

// Hidden from the catch-discovered list: ctest runs it as converted_teacher_cpp after convert_weights_py, which
// writes the files (tests/CMakeLists.txt).
TEST_CASE("teacher: a converted torchvision .pth loads and gives PyTorch's features", "[.][convert]") {
  const char* dir = std::getenv("STFPM_CONVERTED_DIR");
  STFPM_SKIP_UNLESS(dir && test::path_exists(std::string(dir) + "/teacher.h5"),
                    "no converted teacher (run the convert_weights_py test first)");
  const H5Reader teacher_file(std::string(dir) + "/teacher.h5");
  CHECK(teacher_file.attr_int("bn_folded") == 0);
  const H5Reader expected(std::string(dir) + "/expected.h5");
  CpuBackend cpu;
  ResNet18Trunk trunk(cpu);
  trunk.load(teacher_file);
  Shape shape;
  const std::vector<float> input = expected.read_floats("input", &shape);
  trunk.plan(int(shape[0]), int(shape[2]), int(shape[3]), false);
  Buffer x(cpu, input.size());
  x.upload(input);
  const Features f = trunk.forward(x.data(), int(shape[0]), false);
  for (int l = 0; l < 3; ++l) {
    const std::string key = "layer" + std::to_string(l + 1);
    const std::vector<float> want = expected.read_floats(key, f.dims[size_t(l)].shape());
    CHECK(test::all_close(key, download(cpu, f.data[size_t(l)], want.size()), want, 1e-4 * test::max_abs(want), 0));
  }
}

TEST_CASE("teacher: the shared ImageNet teacher on a real bottle image matches PyTorch", "[real][teacher]") {
  const H5Reader ref(test::fixture_path("bottle_teacher_features.h5"));
  const std::string weights = test::shared_dir() + "/weights/resnet18_imagenet.h5";
  const std::string image_path = test::shared_dir() + "/" + ref.attr_string("image");
  STFPM_SKIP_UNLESS(test::path_exists(weights) && test::path_exists(image_path), "../shared data is absent");

  CpuBackend cpu;
  ResNet18Trunk trunk(cpu);
  const H5Reader teacher_file(weights);
  trunk.load(teacher_file);
  const Image8 rgb = read_image_rgb(image_path);
  REQUIRE(rgb.width == 256);
  REQUIRE(rgb.height == 256);
  std::vector<float> input(3 * 256 * 256);
  normalize_image(rgb.data.data(), 256, Preprocess{}, input.data());
  trunk.plan(1, 256, 256, false);
  Buffer x(cpu, input.size());
  x.upload(input);
  const Features f = trunk.forward(x.data(), 1, false);

  const std::vector<float> want = ref.read_floats("layer3", Shape{1, 256, 16, 16});
  CHECK(test::all_close("layer3", download(cpu, f.data[2], want.size()), want, 1e-4 * test::max_abs(want), 0));
  CHECK(l2(download(cpu, f.data[0], f.dims[0].count())) == Approx(ref.read_doubles("layer1_norm").at(0)).epsilon(1e-5));
  CHECK(l2(download(cpu, f.data[1], f.dims[1].count())) == Approx(ref.read_doubles("layer2_norm").at(0)).epsilon(1e-5));
}

TEST_CASE("teacher: tensors that are not float32, or hold NaN/Inf, are refused at load with the tensor named",
          "[teacher][bad-input]") {
  const test::TempDir tmp("teacher_types");
  CpuBackend backend;
  ResNet18Trunk trunk(backend);
  // A complete trunk file, all float32 and finite, except what each case changes.
  auto write = [&](const std::string& path, const std::string& odd, int kind) {
    H5Writer out(path);
    for (const TensorEntry& e : trunk.tensors()) {
      std::vector<float> v(size_t(e.shape.numel()), 0.5f);
      if (e.name == odd && kind == 0) {
        const std::vector<double> d(v.begin(), v.end());
        out.write(e.name, e.shape, d.data());  // float64
        continue;
      }
      if (e.name == odd && kind == 1) {
        const std::vector<int64_t> n(v.size(), 1);
        out.write(e.name, e.shape, n.data());  // integers
        continue;
      }
      if (e.name == odd && kind == 2) v[7] = NAN;
      if (e.name == odd && kind == 3) v[0] = -INFINITY;
      out.write(e.name, e.shape, v.data());
    }
    out.commit();
  };
  write(tmp.file("ok.h5"), "", -1);
  trunk.load(H5Reader(tmp.file("ok.h5")));
  write(tmp.file("f64.h5"), "layer2.0.conv1.weight", 0);
  CHECK_THROWS_WITH(trunk.load(H5Reader(tmp.file("f64.h5"))),
                    Catch::Contains("f64.h5: tensor 'layer2.0.conv1.weight' is stored as float64"));
  write(tmp.file("int.h5"), "bn1.weight", 1);
  CHECK_THROWS_WITH(trunk.load(H5Reader(tmp.file("int.h5"))), Catch::Contains("'bn1.weight' is stored as int64"));
  write(tmp.file("nan.h5"), "layer3.1.bn2.running_var", 2);
  CHECK_THROWS_WITH(trunk.load(H5Reader(tmp.file("nan.h5"))),
                    Catch::Contains("'layer3.1.bn2.running_var' holds NaN at element 7"));
  write(tmp.file("inf.h5"), "conv1.weight", 3);
  CHECK_THROWS_WITH(trunk.load(H5Reader(tmp.file("inf.h5"))),
                    Catch::Contains("'conv1.weight' holds an infinite value at element 0"));
}
