// Fuzz target: an image file through what training and prediction do to it: the header probe, decoding to RGB and
// to gray (stb, PIL's conversions), the PIL-exact bilinear resize and the normalization. The first input byte picks
// the model size (1..64, so that both shrinking and enlarging are reached); the rest is the file. Anything may be
// rejected with an exception; a crash, a sanitizer report or a hang is a bug.
#include <exception>
#include <vector>

#include "data/dataset.h"
#include "data/image_io.h"
#include "data/resize.h"
#include "fuzz_input.h"
#include "fuzz_targets.h"

using namespace stfpm;

void stfpm_fuzz::run_image(const uint8_t* data, size_t size) {
  if (size < 1) return;
  const int model_size = 1 + data[0] % 64;
  const stfpm_fuzz::InputFile file(data + 1, size - 1);
  try {
    const ImageInfo info = probe_image(file.path());
    const Image8 rgb = read_image_rgb(file.path());
    if (rgb.width != info.width || rgb.height != info.height || rgb.channels != 3) __builtin_trap();
    const Image8 resized = resize_bilinear(rgb, model_size, model_size);
    Preprocess preprocess;
    preprocess.size = model_size;
    std::vector<float> pixels(size_t(3) * resized.pixels());
    normalize_image(resized.data.data(), model_size, preprocess, pixels.data());
    const Image8 gray = read_image_gray(file.path());
    if (gray.width != rgb.width || gray.height != rgb.height || gray.channels != 1) __builtin_trap();
  } catch (const std::exception&) {
  }
}

STFPM_FUZZ_ENTRY(run_image)
