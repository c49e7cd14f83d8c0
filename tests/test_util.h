// Shared test helpers: where fixtures and ../shared live, skipping, and NaN-safe tensor comparison.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace stfpm::test {

std::string fixture_path(const std::string& name);  // tests/data/<name>
// The shared data folder: $STFPM_SHARED if set, else <source>/../shared.
std::string shared_dir();
bool path_exists(const std::string& path);
// The shared ImageNet teacher, <shared>/weights/resnet18_imagenet.h5 (tests that need it skip without it).
std::string teacher_file();
// The whole file as bytes (empty when it cannot be read).
std::string read_text(const std::string& path);
// A small synthetic MVTec-layout dataset of 64x64 images at <data_dir>/synthetic, for tests that train.
void write_small_dataset(const std::string& data_dir, int train_count, int good_count, int per_defect_count);

// Writes an 8- or 16-bit TIFF with libtiff (gray for 1 channel, RGB for 3), `compression` a COMPRESSION_* value;
// `samples` holds width * height * channels values, rows top to bottom.
void write_tiff_image(const std::string& path, int width, int height, int channels, int bits,
                      const std::vector<uint16_t>& samples, int compression = 1);

// A fresh folder under /tmp, unique per process (several build folders may run the tests at once), removed when
// the object goes.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& name);
  ~TempDir();
  std::string file(const std::string& name) const;  // path / name
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

// Reports a test as skipped. Under ctest (STFPM_TEST_SKIP_CODE set) the process exits with that code, which ctest
// shows as "Skipped"; when the binary runs by hand it prints a warning and returns true so the test returns.
bool skip(const std::string& reason);
#define STFPM_SKIP_UNLESS(cond, reason) \
  do {                                  \
    if (!(cond)) {                      \
      ::stfpm::test::skip(reason);      \
      return;                           \
    }                                   \
  } while (0)

// Element i passes when |actual - expected| <= abs_tol + rel_tol * |expected| (NaN never passes). On failure it
// prints the first mismatches and the worst one, with the tensor's name. Returns whether all passed.
bool all_close(const std::string& name, const std::vector<float>& actual, const std::vector<float>& expected,
               double abs_tol, double rel_tol);
double max_abs(const std::vector<float>& v);
// Deterministic uniform values in [lo, hi).
std::vector<float> random_vector(size_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f);

}  // namespace stfpm::test
