#include "test_util.h"

#include <sys/stat.h>
#include <tiffio.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include "data/synthetic.h"

namespace stfpm::test {

std::string fixture_path(const std::string& name) { return std::string(STFPM_TEST_DATA_DIR) + "/" + name; }

std::string shared_dir() {
  if (const char* env = std::getenv("STFPM_SHARED")) return env;
  return std::string(STFPM_SOURCE_DIR) + "/../shared";
}

bool path_exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::string teacher_file() { return shared_dir() + "/weights/resnet18_imagenet.h5"; }

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_small_dataset(const std::string& data_dir, int train_count, int good_count, int per_defect_count) {
  SyntheticOptions o;
  o.size = 64;
  o.train_count = train_count;
  o.test_good_count = good_count;
  o.per_defect_count = per_defect_count;
  write_synthetic_dataset(data_dir, o);
}

TempDir::TempDir(const std::string& name)
    : path(std::filesystem::temp_directory_path() / ("stfpm_" + name + "_" + std::to_string(getpid()))) {
  std::filesystem::remove_all(path);
  std::filesystem::create_directories(path);
}

std::string TempDir::file(const std::string& name) const { return (path / name).string(); }

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

bool skip(const std::string& reason) {
  std::fprintf(stderr, "SKIPPED: %s\n", reason.c_str());
  if (const char* code = std::getenv("STFPM_TEST_SKIP_CODE")) std::exit(std::atoi(code));
  return true;
}

bool all_close(const std::string& name, const std::vector<float>& actual, const std::vector<float>& expected,
               double abs_tol, double rel_tol) {
  if (actual.size() != expected.size()) {
    std::fprintf(stderr, "%s: %zu values, expected %zu\n", name.c_str(), actual.size(), expected.size());
    return false;
  }
  size_t bad = 0, worst = 0;
  double worst_excess = -1.0;
  for (size_t i = 0; i < actual.size(); ++i) {
    double err = std::fabs(double(actual[i]) - double(expected[i]));
    double tol = abs_tol + rel_tol * std::fabs(double(expected[i]));
    if (!(err <= tol)) {
      if (bad < 5)
        std::fprintf(stderr, "%s[%zu]: got %.8g expected %.8g (err %.3g, tol %.3g)\n", name.c_str(), i, actual[i],
                     expected[i], err, tol);
      ++bad;
      double excess = std::isnan(err) ? INFINITY : err / tol;
      if (excess > worst_excess) worst_excess = excess, worst = i;
    }
  }
  if (std::getenv("STFPM_TEST_VERBOSE")) {
    double worst_err = 0, scale = 0;
    for (size_t i = 0; i < actual.size(); ++i) {
      worst_err = std::max(worst_err, std::fabs(double(actual[i]) - double(expected[i])));
      scale = std::max(scale, std::fabs(double(expected[i])));
    }
    std::fprintf(stderr, "%s: max abs error %.3g = %.3g of max |expected| (allowed %.3g)\n", name.c_str(),
                 worst_err, scale > 0 ? worst_err / scale : 0.0, scale > 0 ? abs_tol / scale : abs_tol);
  }
  if (bad)
    std::fprintf(stderr, "%s: %zu of %zu values out of tolerance; worst [%zu]: got %.8g expected %.8g\n",
                 name.c_str(), bad, actual.size(), worst, actual[worst], expected[worst]);
  return bad == 0;
}

double max_abs(const std::vector<float>& v) {
  double m = 0.0;
  for (float x : v) m = std::max(m, double(std::fabs(x)));
  return m;
}

std::vector<float> random_vector(size_t n, uint64_t seed, float lo, float hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

void write_tiff_image(const std::string& path, int width, int height, int channels, int bits,
                      const std::vector<uint16_t>& samples, int compression) {
  TIFF* t = TIFFOpen(path.c_str(), "w");
  if (!t) throw std::runtime_error(path + ": cannot create the test TIFF");
  TIFFSetField(t, TIFFTAG_IMAGEWIDTH, uint32_t(width));
  TIFFSetField(t, TIFFTAG_IMAGELENGTH, uint32_t(height));
  TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, uint16_t(channels));
  TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, uint16_t(bits));
  TIFFSetField(t, TIFFTAG_PHOTOMETRIC, uint16_t(channels == 1 ? PHOTOMETRIC_MINISBLACK : PHOTOMETRIC_RGB));
  TIFFSetField(t, TIFFTAG_PLANARCONFIG, uint16_t(PLANARCONFIG_CONTIG));
  TIFFSetField(t, TIFFTAG_COMPRESSION, uint16_t(compression));
  TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, uint32_t(2));
  const size_t row = size_t(width) * size_t(channels);
  std::vector<uint8_t> bytes(row * size_t(bits / 8));
  for (int y = 0; y < height; ++y) {
    for (size_t i = 0; i < row; ++i) {
      const uint16_t v = samples[size_t(y) * row + i];
      if (bits == 8) bytes[i] = uint8_t(v);
      else std::memcpy(&bytes[i * 2], &v, 2);  // native order: libtiff records it
    }
    if (TIFFWriteScanline(t, bytes.data(), uint32_t(y), 0) != 1) throw std::runtime_error(path + ": write failed");
  }
  TIFFClose(t);
}

}  // namespace stfpm::test
