// Fuzz target: the TIFF anomaly-map reader that `stfpm evaluate` uses on maps written by other programs, then the
// bilinear resize a map goes through. A file it accepts must hold width * height floats.
#include <exception>
#include <vector>

#include "fuzz_input.h"
#include "fuzz_targets.h"
#include "io/tiff_io.h"

using namespace stfpm;

void stfpm_fuzz::run_tiff(const uint8_t* data, size_t size) {
  const stfpm_fuzz::InputFile file(data, size);
  try {
    const FloatImage map = read_tiff_float(file.path());
    if (map.width <= 0 || map.height <= 0 || map.data.size() != size_t(map.width) * size_t(map.height))
      __builtin_trap();
    if (map.data.size() <= (1u << 20)) resize_map_bilinear(map.data.data(), map.width, map.height, 7, 5);
  } catch (const std::exception&) {
  }
}

STFPM_FUZZ_ENTRY(run_tiff)
