// PIL-exact bilinear resize: what torchvision's Resize((h, w)) does to a PIL image, i.e.
// Image.resize((w, h), Image.BILINEAR) for 8-bit images (Pillow's Resample.c), reproduced bit for bit.
//
// The filter is a triangle whose support grows with the downscale factor (so shrinking averages every input
// pixel, antialiased), applied separably: a horizontal pass whose result is rounded to 8 bits, then a vertical
// pass. Weights are normalized per output pixel in double precision and then converted to fixed point with
// 22 fractional bits; sums start at one half and are clipped to 0..255.
#pragma once

#include <cstdint>

#include "data/image_io.h"

namespace stfpm {

// Resizes an 8-bit image with any number of channels (each resized independently) to width x height.
// Same size returns a copy. Throws std::invalid_argument for empty sizes or an inconsistent image.
Image8 resize_bilinear(const Image8& src, int width, int height);

}  // namespace stfpm
