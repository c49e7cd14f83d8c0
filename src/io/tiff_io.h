// TIFF files: 8-bit images and masks to decode (below), and float anomaly maps in the layout MVTec AD's official evaluation script reads
// (<out>/<category>/test/<defect>/<stem>.tiff, one single-channel float32 image per test image, at the size of the
// original test image), and the bilinear resize that brings a model-resolution map to that size.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace stfpm {

struct FloatImage {
  int width = 0, height = 0;
  std::vector<float> data;  // (height, width), rows top to bottom
};

// Writes a single-channel 32-bit IEEE float TIFF (uncompressed, strips, minimum-is-black), atomically (temporary
// file + rename). Readers: tifffile, PIL (mode 'F'), libtiff tools. Throws std::runtime_error naming the file when
// it cannot be written (missing folder, no permission, disk full), std::invalid_argument for an empty size.
// `data` holds width * height values.
void write_tiff_float(const std::string& path, const float* data, int width, int height);
// Reads what write_tiff_float writes (or any strip-organized single-channel float32 TIFF; the first page).
// Throws std::runtime_error "<path>: <reason>" for a missing file, a file that is not a TIFF, a sample format
// other than 32-bit float, more than one channel, tiles, or truncated data.
FloatImage read_tiff_float(const std::string& path);

// 8-bit images from any TIFF libtiff decodes (gray, RGB, palette, 16-bit, compressed; the first page), for image
// and mask files: tiff_image_info reads the header, read_tiff_rgba8 the pixels as RGBA rows top to bottom
// (libtiff's RGBA interface: 16-bit samples keep their high byte, alpha is 255 where the file has none). Both
// throw std::runtime_error "<path>: <reason>".
struct TiffImageInfo {
  int width = 0, height = 0, samples = 0, bits = 0;  // samples per pixel, bits per sample
};
bool is_tiff_data(const unsigned char* bytes, size_t size);  // the "II*\0" / "MM\0*" signature
TiffImageInfo tiff_image_info(const std::string& path);
std::vector<unsigned char> read_tiff_rgba8(const std::string& path);

// Bilinear resize of a (src_h, src_w) map to (dst_h, dst_w) with align_corners=false, as PyTorch's
// F.interpolate(mode='bilinear', align_corners=False) computes it from a given output size: source coordinate
// max(0, (dst + 0.5) * src/dst - 0.5) per axis, the right/bottom neighbour clamped at the border, weights
// computed like PyTorch's CPU kernel; results agree with PyTorch to about one float ulp.
std::vector<float> resize_map_bilinear(const float* src, int src_w, int src_h, int dst_w, int dst_h);

// <out_dir>/<category>/test/<defect>/<stem>.tiff, the path MVTec AD's evaluation script expects.
std::string mvtec_tiff_path(const std::string& out_dir, const std::string& category, const std::string& defect,
                            const std::string& stem);
// Resizes a (map_h, map_w) anomaly map to the original image size (width x height) and writes it to `path`,
// creating missing folders.
void write_anomaly_map_tiff(const std::string& path, const float* map, int map_w, int map_h, int width,
                            int height);

}  // namespace stfpm
