// Fuzz target: a ground-truth mask through the test set's loading: the header probe the dataset scan does, the
// decode to gray, the size check against its image, the resize to the model size and both binarization rules.
// The first byte picks the model size (1..64), the next two a size mismatch to try (0: the mask's own size).
#include <exception>
#include <vector>

#include "data/dataset.h"
#include "data/image_io.h"
#include "eval/metrics.h"
#include "fuzz_input.h"
#include "fuzz_targets.h"

using namespace stfpm;

void stfpm_fuzz::run_mask(const uint8_t* data, size_t size) {
  if (size < 3) return;
  const int model_size = 1 + data[0] % 64;
  const int dw = data[1] % 3 - 1, dh = data[2] % 3 - 1;  // -1, 0 or +1 pixel off the mask's size
  const stfpm_fuzz::InputFile file(data + 3, size - 3);
  try {
    const ImageInfo info = probe_image(file.path());  // sizes are positive and at most 178956970 pixels
    const Image8 mask = load_mask(file.path(), "image.png", info.width + dw, info.height + dh, model_size);
    if ((dw || dh) || mask.width != model_size || mask.height != model_size || mask.channels != 1) __builtin_trap();
    std::vector<uint8_t> binary(mask.pixels());
    for (MaskRule rule : {MaskRule::strict, MaskRule::half}) {
      binarize_mask(binary.data(), mask.data.data(), binary.size(), rule);
      for (uint8_t v : binary)
        if (v > 1) __builtin_trap();
    }
  } catch (const std::exception&) {
  }
}

STFPM_FUZZ_ENTRY(run_mask)
