#include "data/image_io.h"

// Debian's libstb ships the compiled implementation (libstb.so); its README asks users to link it rather than
// define STB_IMAGE_IMPLEMENTATION, so these are declarations only. stb keeps its failure reason per thread, so
// images may be decoded from several OpenMP threads at once.
#include <stb_image.h>
#include <stb_image_write.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

#include "core/files.h"
#include "io/tiff_io.h"

namespace stfpm {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": " + what);
}

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<FILE, FileCloser>;

File open_for_reading(const std::string& path) {
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) fail(path, std::string("cannot open image: ") + std::strerror(errno));
  return f;
}

std::string stb_reason() {
  const char* r = stbi_failure_reason();
  return r ? r : "unknown error";
}

// PIL's decompression-bomb limit (Image.MAX_IMAGE_PIXELS * 2, where PIL raises instead of warning): a few
// kilobytes of PNG or JPEG can declare gigapixels, and decoding them would take gigabytes.
constexpr int64_t kMaxImagePixels = 178956970;
// No format stb reads stores more than about 8300 pixels per byte (deflate's best ratio on 1-bit PNG rows; JPEG,
// LZW and the RLE formats stay far below), so a header declaring more pixels than 16384 per byte of the file belongs
// to a truncated or corrupt file, which stb would otherwise decode as a large blank image.
constexpr int64_t kMaxPixelsPerByte = 16384;

// file_bytes 0: no bound from the file's size (TIFF: CCITT G4 or zstd strips of a blank page go far beyond stb's
// ratios, and libtiff reports truncated strips itself).
void check_pixels(const std::string& path, int width, int height, size_t file_bytes) {
  const int64_t pixels = int64_t(width) * int64_t(height);
  const std::string size = std::to_string(width) + "x" + std::to_string(height);
  if (width <= 0 || height <= 0) fail(path, "the header declares an image of " + size + " pixels (corrupt)");
  if (pixels > kMaxImagePixels)
    fail(path, "image is " + size + ", more than the " + std::to_string(kMaxImagePixels) +
                   " pixels stfpm decodes (a corrupt header or a decompression bomb?)");
  if (file_bytes > 0 && pixels > kMaxPixelsPerByte * int64_t(file_bytes))
    fail(path, "the header declares " + size + " pixels but the file has only " + std::to_string(file_bytes) +
                   " bytes (truncated or corrupt)");
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  File f = open_for_reading(path);
  std::vector<uint8_t> bytes;
  if (std::fseek(f.get(), 0, SEEK_END) == 0) {  // refuse a huge file before reading it (pipes cannot seek)
    const long size = std::ftell(f.get());
    if (size > long(INT32_MAX)) fail(path, "image file larger than 2 GiB");
    if (size > 0) bytes.reserve(size_t(size));
    std::rewind(f.get());
  }
  uint8_t chunk[65536];
  for (size_t n; (n = std::fread(chunk, 1, sizeof chunk, f.get())) > 0;) {
    bytes.insert(bytes.end(), chunk, chunk + n);
    if (bytes.size() > size_t(INT32_MAX)) fail(path, "image file larger than 2 GiB");
  }
  if (std::ferror(f.get())) fail(path, std::string("cannot read image: ") + std::strerror(errno));
  return bytes;
}

// Two faults of stb_image (Debian's 2022-09 snapshot) on corrupt JPEGs, both found by fuzz/fuzz_image.cpp:
//  - a DHT segment whose 16 code-length counts add up to more than 256 symbols makes it write past its table;
//  - a scan that names a Huffman table no DHT defined makes it decode with uninitialized memory (a wild read).
// This walks the JPEG's segments the way stb reads them and returns what is wrong, or nothing, so that such a
// file is refused before stb sees it. Anything else malformed is left to stb.
std::string jpeg_fault_for_stb(const std::vector<uint8_t>& b) {
  const size_t n = b.size();
  auto byte = [&](size_t i) -> unsigned { return i < n ? b[i] : 0u; };  // stb reads zeros past the end
  // stb takes any number of 0xFF fill bytes before the start-of-image marker, as before every marker.
  size_t start = 0;
  while (start < n && b[start] == 0xFF) ++start;
  if (start == 0 || start >= n || b[start] != 0xD8) return "";
  bool defined[2][4] = {};  // [DC, AC][table id]
  bool progressive = false;
  for (size_t i = start + 1; i + 1 < n;) {
    const unsigned marker = b[i + 1];
    if (b[i] != 0xFF || marker == 0xFF) {  // entropy-coded data or fill bytes
      ++i;
      continue;
    }
    if (marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {  // stuffed byte, TEM, RSTn
      i += 2;
      continue;
    }
    if (marker == 0xD9) return "";  // end of image
    const long length = long(byte(i + 2) << 8 | byte(i + 3));
    if (marker == 0xC2) progressive = true;
    if (marker == 0xDA) {  // start of scan: components (id, DC table << 4 | AC table), then Ss, Se, Ah << 4 | Al
      const unsigned components = byte(i + 4);
      if (components >= 1 && components <= 4) {
        const unsigned ss = byte(i + 5 + 2 * components), ah = byte(i + 7 + 2 * components) >> 4;
        // Baseline scans decode with both tables; progressive DC scans with the DC table in their first pass
        // only, AC scans with the AC table.
        const bool uses_dc = !progressive || (ss == 0 && ah == 0), uses_ac = !progressive || ss != 0;
        for (unsigned c = 0; c < components; ++c) {
          const unsigned tables = byte(i + 6 + 2 * c), dc = tables >> 4, ac = tables & 15;
          if (dc > 3 || ac > 3) return "";  // stb refuses the scan itself
          if ((uses_dc && !defined[0][dc]) || (uses_ac && !defined[1][ac]))
            return "a scan uses a Huffman table that no DHT segment defines";
        }
      }
    }
    if (marker != 0xC4) {
      i += 2 + size_t(length);
      continue;
    }
    size_t at = i + 4;
    for (long left = length - 2; left > 0;) {
      const unsigned q = byte(at++);
      if ((q >> 4) > 1 || (q & 15) > 3) return "";  // stb refuses the table itself
      unsigned symbols = 0;
      for (int k = 0; k < 16; ++k) symbols += byte(at++);
      if (symbols > 256) return "a Huffman table with more than 256 codes";
      defined[q >> 4][q & 15] = true;
      at += symbols;
      left -= 17 + long(symbols);
    }
    i = at;
  }
  return "";
}

// stb's PNM (P5/P6) header parser accumulates width, height and maximum value in an int without a bound: a header
// number past 2^31 is signed overflow (found by fuzz/fuzz_image.cpp). This reads the three numbers as stb does
// (whitespace and '#' comments between them) and reports one that does not fit.
bool pnm_header_overflows(const std::vector<uint8_t>& b) {
  if (b.size() < 2 || b[0] != 'P' || (b[1] != '5' && b[1] != '6')) return false;
  size_t i = 2;
  auto space = [](uint8_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
  for (int number = 0; number < 3; ++number) {
    for (;;) {  // whitespace, then comments to the end of their line
      while (i < b.size() && space(b[i])) ++i;
      if (i >= b.size() || b[i] != '#') break;
      while (i < b.size() && b[i] != '\n' && b[i] != '\r') ++i;
    }
    int64_t value = 0;
    for (; i < b.size() && b[i] >= '0' && b[i] <= '9'; ++i) {
      value = value * 10 + (b[i] - '0');
      if (value > INT32_MAX) return true;
    }
  }
  return false;
}

// The file's bytes, once the JPEG and PNM checks above have passed (stb parses them for the header alone too).
std::vector<uint8_t> read_image_file(const std::string& path) {
  std::vector<uint8_t> bytes = read_bytes(path);
  const std::string jpeg_fault = jpeg_fault_for_stb(bytes);
  if (!jpeg_fault.empty()) fail(path, "cannot decode image (corrupt JPEG: " + jpeg_fault + ")");
  if (pnm_header_overflows(bytes)) fail(path, "cannot decode image (corrupt PNM header: a number too large)");
  return bytes;
}

// TIFF, which stb does not read, through libtiff.
Image8 decode_tiff(const std::string& path) {
  const TiffImageInfo info = tiff_image_info(path);
  check_pixels(path, info.width, info.height, 0);
  Image8 img;
  img.width = info.width;
  img.height = info.height;
  img.channels = 4;
  img.data = read_tiff_rgba8(path);
  return img;
}

Image8 decode(const std::string& path) {
  const std::vector<uint8_t> bytes = read_image_file(path);
  if (is_tiff_data(bytes.data(), bytes.size())) return decode_tiff(path);
  const int size = int(bytes.size());
  int w = 0, h = 0, n = 0;
  if (stbi_info_from_memory(bytes.data(), size, &w, &h, &n)) check_pixels(path, w, h, bytes.size());
  stbi_uc* pixels = stbi_load_from_memory(bytes.data(), size, &w, &h, &n, 0);
  if (!pixels) fail(path, "cannot decode image (" + stb_reason() + "; unsupported, truncated or corrupt file?)");
  Image8 img;
  img.width = w;
  img.height = h;
  img.channels = n;
  img.data.assign(pixels, pixels + size_t(w) * size_t(h) * size_t(n));
  stbi_image_free(pixels);
  return img;
}

// PIL's L24 luma: fixed-point 601-2 weights with rounding.
inline uint8_t luma(uint8_t r, uint8_t g, uint8_t b) {
  return uint8_t((uint32_t(r) * 19595u + uint32_t(g) * 38470u + uint32_t(b) * 7471u + 0x8000u) >> 16);
}

void check_channels(const Image8& image, const char* what) {
  if (image.channels < 1 || image.channels > 4 || image.data.size() != image.pixels() * size_t(image.channels))
    throw std::invalid_argument(std::string(what) + ": image with " + std::to_string(image.channels) +
                                " channels and " + std::to_string(image.data.size()) + " bytes for " +
                                std::to_string(image.width) + "x" + std::to_string(image.height) + " pixels");
}

}  // namespace

ImageInfo probe_image(const std::string& path) {
  const std::vector<uint8_t> bytes = read_image_file(path);
  ImageInfo info;
  if (is_tiff_data(bytes.data(), bytes.size())) {
    const TiffImageInfo t = tiff_image_info(path);
    check_pixels(path, t.width, t.height, 0);
    info.width = t.width;
    info.height = t.height;
    info.channels = std::min(t.samples, 4);
    info.is_16bit = t.bits == 16;
    return info;
  }
  if (!stbi_info_from_memory(bytes.data(), int(bytes.size()), &info.width, &info.height, &info.channels))
    fail(path, "not a readable image (" + stb_reason() + ")");
  check_pixels(path, info.width, info.height, bytes.size());
  info.is_16bit = stbi_is_16_bit_from_memory(bytes.data(), int(bytes.size())) != 0;
  return info;
}

Image8 to_rgb(const Image8& image) {
  check_channels(image, "to_rgb");
  if (image.channels == 3) return image;
  Image8 out(image.width, image.height, 3);
  const int c = image.channels;
  const size_t n = image.pixels();
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = &image.data[i * size_t(c)];
    uint8_t* q = &out.data[i * 3];
    if (c <= 2) {  // gray or gray+alpha
      q[0] = q[1] = q[2] = p[0];
    } else {  // RGBA
      q[0] = p[0], q[1] = p[1], q[2] = p[2];
    }
  }
  return out;
}

Image8 to_gray(const Image8& image) {
  check_channels(image, "to_gray");
  if (image.channels == 1) return image;
  Image8 out(image.width, image.height, 1);
  const int c = image.channels;
  const size_t n = image.pixels();
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = &image.data[i * size_t(c)];
    out.data[i] = c == 2 ? p[0] : luma(p[0], p[1], p[2]);
  }
  return out;
}

Image8 read_image_rgb(const std::string& path) { return to_rgb(decode(path)); }

Image8 read_image_gray(const std::string& path) { return to_gray(decode(path)); }

void write_png(const std::string& path, const Image8& image) {
  check_channels(image, path.c_str());
  if (image.width <= 0 || image.height <= 0) fail(path, "cannot write an empty image");
  // Encode in memory first: stbi_write_png ignores write errors, so the file is written (atomically) by us.
  std::vector<unsigned char> png;
  auto append = [](void* context, void* data, int size) {
    auto* out = static_cast<std::vector<unsigned char>*>(context);
    const auto* bytes = static_cast<const unsigned char*>(data);
    out->insert(out->end(), bytes, bytes + size);
  };
  const int stride = image.width * image.channels;
  if (!stbi_write_png_to_func(append, &png, image.width, image.height, image.channels, image.data.data(), stride))
    fail(path, "PNG encoding failed");
  write_file_atomic(path, std::string(png.begin(), png.end()), "PNG");  // errors checked up to the close and rename
}

}  // namespace stfpm
