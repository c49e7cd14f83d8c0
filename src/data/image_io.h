// Image files: decoding with stb_image (PNG, JPEG, BMP, TGA and the other formats stb reads) or libtiff (TIFF, any
// layout its RGBA interface reads), and PNG writing with stb_image_write. Every error is one line that names the
// file and says what is wrong.
//
// Conversions follow PIL, which the reference preprocessing uses (Image.open(p).convert('RGB') / .convert('L')):
//  - to RGB: gray is replicated into the three channels, alpha is dropped (not blended), palettes are expanded;
//  - to gray (L): L = (19595 R + 38470 G + 7471 B + 32768) >> 16, PIL's rounded ITU-R 601-2 luma
//    (= round((299 R + 587 G + 114 B) / 1000)); gray+alpha keeps the gray channel; alpha is ignored.
//  - 16-bit PNGs and TIFFs become 8-bit by keeping the high byte (v >> 8, what stb and libtiff do). For 16-bit RGB(A) this equals
//    PIL. For 16-bit gray PIL differs: it opens the file as 32-bit integers and its conversion clips every value
//    above 255 to 255 (a saturated image); we scale instead.
//  - JPEG: stb's decoder is not bit-exact with libjpeg (PIL); pixels can differ by a few levels.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace stfpm {

// An 8-bit image, rows top to bottom, channels interleaved (gray: 1, RGB: 3, ...).
struct Image8 {
  int width = 0, height = 0, channels = 0;
  std::vector<uint8_t> data;  // (height, width, channels)

  Image8() = default;
  Image8(int w, int h, int c) : width(w), height(h), channels(c), data(size_t(w) * size_t(h) * size_t(c), 0) {}
  size_t pixels() const { return size_t(width) * size_t(height); }
  uint8_t* row(int y) { return data.data() + size_t(y) * size_t(width) * size_t(channels); }
  const uint8_t* row(int y) const { return data.data() + size_t(y) * size_t(width) * size_t(channels); }
};

// What the file header says, without decoding the pixels.
struct ImageInfo {
  int width = 0, height = 0;
  int channels = 0;  // as stored: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA (palettes report 3 or 4)
  bool is_16bit = false;
};

// Throws std::runtime_error "<path>: ..." when the file is missing, not an image stb can read, or larger than
// 178956970 pixels (PIL's decompression-bomb limit) or than its size can hold (a truncated or corrupt header).
ImageInfo probe_image(const std::string& path);

// Decodes any image stb reads to 8-bit RGB (channels == 3) or 8-bit gray (channels == 1), with the conversions
// described above. Unreadable, truncated or unsupported files throw std::runtime_error naming the file and stb's
// reason.
Image8 read_image_rgb(const std::string& path);
Image8 read_image_gray(const std::string& path);

// The PIL conversions on decoded pixels (1..4 channels in, as stb returns them).
Image8 to_rgb(const Image8& image);
Image8 to_gray(const Image8& image);

// Writes an 8-bit PNG with 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) channels. Throws std::runtime_error
// naming the file when it cannot be written (missing folder, no permission, disk full).
void write_png(const std::string& path, const Image8& image);

}  // namespace stfpm
