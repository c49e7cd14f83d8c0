#include "io/tiff_io.h"

#include <tiffio.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdarg>
#include <cstdio>
#include <memory>
#include <stdexcept>

#include "core/files.h"

namespace stfpm {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": " + what);
}

// libtiff reports problems through handlers; by default they print to stderr. Per-file handlers (libtiff >= 4.5)
// collect the first message instead, so it ends up in our one-line error.
int keep_message(TIFF*, void* user, const char*, const char* fmt, va_list ap) {
  auto* message = static_cast<std::string*>(user);
  if (message->empty()) {
    char buf[512];
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    *message = buf;
  }
  return 1;  // handled: libtiff prints nothing
}

int ignore_warning(TIFF*, void*, const char*, const char*, va_list) { return 1; }

struct TiffCloser {
  void operator()(TIFF* t) const { TIFFClose(t); }
};
using TiffPtr = std::unique_ptr<TIFF, TiffCloser>;

TiffPtr open_tiff(const std::string& path, const char* mode, std::string& message) {
  TIFFOpenOptions* opts = TIFFOpenOptionsAlloc();
  TIFFOpenOptionsSetErrorHandlerExtR(opts, keep_message, &message);
  TIFFOpenOptionsSetWarningHandlerExtR(opts, ignore_warning, nullptr);
  TiffPtr tif(TIFFOpenExt(path.c_str(), mode, opts));
  TIFFOpenOptionsFree(opts);
  return tif;
}

std::string reason(const std::string& message, const char* fallback) {
  return message.empty() ? fallback : message;
}

}  // namespace

void write_tiff_float(const std::string& path, const float* data, int width, int height) {
  if (width <= 0 || height <= 0)
    throw std::invalid_argument(path + ": cannot write an empty " + std::to_string(width) + "x" +
                                std::to_string(height) + " TIFF");
  const std::string tmp = path + ".tmp";
  std::string message;
  set_pending_file(tmp);
  {
    TiffPtr tif = open_tiff(tmp, "w", message);
    if (!tif) {
      std::remove(tmp.c_str());  // a full disk can fail the header write inside TIFFOpen
      clear_pending_file(tmp);
      fail(path, "cannot write TIFF: " + reason(message, "open failed"));
    }
    TIFF* t = tif.get();
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, uint32_t(width));
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, uint32_t(height));
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, uint16_t(1));
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, uint16_t(32));
    TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, uint16_t(SAMPLEFORMAT_IEEEFP));
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, uint16_t(PHOTOMETRIC_MINISBLACK));
    TIFFSetField(t, TIFFTAG_PLANARCONFIG, uint16_t(PLANARCONFIG_CONTIG));
    TIFFSetField(t, TIFFTAG_COMPRESSION, uint16_t(COMPRESSION_NONE));
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, TIFFDefaultStripSize(t, 0));
    bool ok = true;
    for (int y = 0; ok && y < height; ++y) {
      // libtiff's scanline API takes a non-const buffer but does not modify it without compression.
      float* row = const_cast<float*>(data + size_t(y) * size_t(width));
      ok = TIFFWriteScanline(t, row, uint32_t(y), 0) == 1;
    }
    // TIFFClose writes the directory; a full disk shows up here or in TIFFFlush.
    ok = ok && TIFFFlush(t) == 1;
    if (!ok) {
      tif.reset();
      std::remove(tmp.c_str());
      clear_pending_file(tmp);
      fail(path, "cannot write TIFF: " + reason(message, "write failed"));
    }
  }
  const bool renamed = std::rename(tmp.c_str(), path.c_str()) == 0;
  if (!renamed) std::remove(tmp.c_str());
  clear_pending_file(tmp);
  if (!renamed) fail(path, "cannot write TIFF: rename of the temporary file failed");
}

FloatImage read_tiff_float(const std::string& path) {
  if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
    std::fclose(f);
  } else {
    fail(path, "cannot open TIFF file");
  }
  std::string message;
  TiffPtr tif = open_tiff(path, "r", message);
  if (!tif) fail(path, "not a readable TIFF file (" + reason(message, "unknown error") + ")");
  TIFF* t = tif.get();
  uint32_t w = 0, h = 0;
  uint16_t spp = 1, bps = 1, fmt = SAMPLEFORMAT_UINT;
  TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
  TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h);
  TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &spp);
  TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &bps);
  TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLEFORMAT, &fmt);
  if (spp != 1) fail(path, "expected a single-channel TIFF, found " + std::to_string(spp) + " channels");
  if (fmt != SAMPLEFORMAT_IEEEFP || bps != 32)
    fail(path, std::string("expected 32-bit float samples, found ") + std::to_string(bps) + "-bit " +
                   (fmt == SAMPLEFORMAT_IEEEFP ? "float" : fmt == SAMPLEFORMAT_INT ? "signed integer" : "integer"));
  if (TIFFIsTiled(t)) fail(path, "tiled TIFF files are not supported (expected strips)");
  // The images' own limit (data/image_io.h: PIL's decompression-bomb size), since maps have their image's size.
  if (w == 0 || h == 0 || uint64_t(w) * h > 178956970u)
    fail(path, "unsupported image size " + std::to_string(w) + "x" + std::to_string(h));
  if (TIFFScanlineSize(t) != tmsize_t(w) * 4) fail(path, "unexpected scanline size");

  FloatImage img;
  img.width = int(w);
  img.height = int(h);
  // Rows are added as they are read, so that a small truncated file declaring a large map fails before the memory
  // of the whole map is taken.
  for (uint32_t y = 0; y < h; ++y) {
    img.data.resize(size_t(y + 1) * w);
    if (TIFFReadScanline(t, img.data.data() + size_t(y) * w, y, 0) != 1)
      fail(path, "truncated or corrupt TIFF data at row " + std::to_string(y) + " (" +
                     reason(message, "read failed") + ")");
  }
  return img;
}

bool is_tiff_data(const unsigned char* b, size_t size) {
  return size >= 4 && ((b[0] == 'I' && b[1] == 'I' && b[2] == 42 && b[3] == 0) ||
                       (b[0] == 'M' && b[1] == 'M' && b[2] == 0 && b[3] == 42));
}

TiffImageInfo tiff_image_info(const std::string& path) {
  std::string message;
  TiffPtr tif = open_tiff(path, "r", message);
  if (!tif) fail(path, "not a readable TIFF file (" + reason(message, "unknown error") + ")");
  uint32_t w = 0, h = 0;
  uint16_t samples = 1, bits = 1;
  TIFFGetField(tif.get(), TIFFTAG_IMAGEWIDTH, &w);
  TIFFGetField(tif.get(), TIFFTAG_IMAGELENGTH, &h);
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_SAMPLESPERPIXEL, &samples);
  TIFFGetFieldDefaulted(tif.get(), TIFFTAG_BITSPERSAMPLE, &bits);
  TiffImageInfo info;
  info.width = int(std::min<uint32_t>(w, INT32_MAX));
  info.height = int(std::min<uint32_t>(h, INT32_MAX));
  info.samples = samples;
  info.bits = bits;
  return info;
}

std::vector<unsigned char> read_tiff_rgba8(const std::string& path) {
  std::string message;
  TiffPtr tif = open_tiff(path, "r", message);
  if (!tif) fail(path, "not a readable TIFF file (" + reason(message, "unknown error") + ")");
  uint32_t w = 0, h = 0;
  TIFFGetField(tif.get(), TIFFTAG_IMAGEWIDTH, &w);
  TIFFGetField(tif.get(), TIFFTAG_IMAGELENGTH, &h);
  char why[1024] = "";
  if (w == 0 || h == 0 || !TIFFRGBAImageOK(tif.get(), why))
    fail(path, std::string("cannot decode TIFF image (") + (why[0] ? why : "empty image") + ")");
  std::vector<uint32_t> pixels(size_t(w) * h);
  // stop_on_error: otherwise a truncated strip leaves rows of zeros and the call still succeeds.
  if (!TIFFReadRGBAImageOriented(tif.get(), w, h, pixels.data(), ORIENTATION_TOPLEFT, 1) || !message.empty())
    fail(path, "cannot decode TIFF image (" + reason(message, "truncated or corrupt data") + ")");
  std::vector<unsigned char> rgba(pixels.size() * 4);
  for (size_t i = 0; i < pixels.size(); ++i) {
    rgba[i * 4 + 0] = static_cast<unsigned char>(TIFFGetR(pixels[i]));
    rgba[i * 4 + 1] = static_cast<unsigned char>(TIFFGetG(pixels[i]));
    rgba[i * 4 + 2] = static_cast<unsigned char>(TIFFGetB(pixels[i]));
    rgba[i * 4 + 3] = static_cast<unsigned char>(TIFFGetA(pixels[i]));
  }
  return rgba;
}

std::vector<float> resize_map_bilinear(const float* src, int src_w, int src_h, int dst_w, int dst_h) {
  if (src_w <= 0 || src_h <= 0 || dst_w <= 0 || dst_h <= 0)
    throw std::invalid_argument("resize_map_bilinear: empty size " + std::to_string(src_w) + "x" +
                                std::to_string(src_h) + " -> " + std::to_string(dst_w) + "x" +
                                std::to_string(dst_h));
  // Per-axis source indices and weights, computed as PyTorch's CPU kernel does: the scale in float, the source
  // coordinate in double (not rounded to float: near integer coordinates that decides the weight's last bits),
  // lambda clamped to [0, 1] and stored as float. The sum of the four taps is taken in double and rounded once;
  // PyTorch's own rounding order differs, so results agree to about one float ulp, not bit for bit.
  struct Tap {
    int i0, i1;
    float l0, l1;
  };
  auto taps = [](int in, int out) {
    std::vector<Tap> t(static_cast<size_t>(out));
    const float scale = float(in) / float(out);
    for (int o = 0; o < out; ++o) {
      double real = double(scale) * (o + 0.5) - 0.5;
      if (real < 0.0) real = 0.0;
      const int i0 = int(real);
      const int i1 = i0 + (i0 < in - 1 ? 1 : 0);
      const float l1 = float(std::min(std::max(real - i0, 0.0), 1.0));
      t[size_t(o)] = {i0, i1, 1.0f - l1, l1};
    }
    return t;
  };
  const std::vector<Tap> tx = taps(src_w, dst_w), ty = taps(src_h, dst_h);
  std::vector<float> dst(size_t(dst_w) * size_t(dst_h));
  for (int y = 0; y < dst_h; ++y) {
    const Tap& a = ty[size_t(y)];
    const float* r0 = src + size_t(a.i0) * size_t(src_w);
    const float* r1 = src + size_t(a.i1) * size_t(src_w);
    float* out = dst.data() + size_t(y) * size_t(dst_w);
    for (int x = 0; x < dst_w; ++x) {
      const Tap& b = tx[size_t(x)];
      const double top = double(r0[b.i0]) * b.l0 + double(r0[b.i1]) * b.l1;
      const double bottom = double(r1[b.i0]) * b.l0 + double(r1[b.i1]) * b.l1;
      out[x] = float(top * a.l0 + bottom * a.l1);
    }
  }
  return dst;
}

std::string mvtec_tiff_path(const std::string& out_dir, const std::string& category, const std::string& defect,
                            const std::string& stem) {
  return out_dir + "/" + category + "/test/" + defect + "/" + stem + ".tiff";
}

void write_anomaly_map_tiff(const std::string& path, const float* map, int map_w, int map_h, int width,
                            int height) {
  create_parent_dirs(path);
  if (map_w == width && map_h == height) {
    write_tiff_float(path, map, width, height);
  } else {
    write_tiff_float(path, resize_map_bilinear(map, map_w, map_h, width, height).data(), width, height);
  }
}

}  // namespace stfpm
