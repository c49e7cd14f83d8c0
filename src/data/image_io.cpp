#include "data/image_io.h"

// Debian's libstb ships the compiled implementation (libstb.so); its README asks users to link it rather than
// define STB_IMAGE_IMPLEMENTATION, so these are declarations only. stb keeps its failure reason per thread, so
// images may be decoded from several OpenMP threads at once.
#include <stb_image.h>
#include <stb_image_write.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "core/files.h"

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

// Decodes to 8 bits with the channels stored in the file (stb reduces 16-bit samples to their high byte).
Image8 decode(const std::string& path) {
  File f = open_for_reading(path);
  int w = 0, h = 0, n = 0;
  stbi_uc* pixels = stbi_load_from_file(f.get(), &w, &h, &n, 0);
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
  File f = open_for_reading(path);
  ImageInfo info;
  if (!stbi_info_from_file(f.get(), &info.width, &info.height, &info.channels))
    fail(path, "not a readable image (" + stb_reason() + ")");
  info.is_16bit = stbi_is_16_bit_from_file(f.get()) != 0;
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
