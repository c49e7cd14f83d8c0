#include "data/dataset.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <new>
#include <stdexcept>

#include "data/image_io.h"
#include "data/resize.h"

namespace fs = std::filesystem;

namespace stfpm {

namespace {

// The memory this process may use: the physical memory, or less where a cgroup (a container) limits it.
double memory_limit_bytes() {
  double limit = double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGESIZE));
  for (const char* path : {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    std::ifstream in(path);
    double value = 0;
    if (in >> value && value > 0 && value < limit) limit = value;  // "max" (no limit) does not parse
  }
  return limit;
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": " + what);
}

[[noreturn]] void fail_mask_size(const std::string& mask, int mask_w, int mask_h, const std::string& image, int w,
                                 int h) {
  fail(mask, "mask is " + std::to_string(mask_w) + "x" + std::to_string(mask_h) + " but its image " + image +
                 " is " + std::to_string(w) + "x" + std::to_string(h));
}

const char* const kImageExtensions = ".png, .jpg, .jpeg, .bmp, .tga, .tif, .tiff";
const std::vector<std::string> kExtensions = {".png", ".bmp", ".jpg", ".jpeg", ".tga", ".tif", ".tiff"};

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::toupper(c)); });
  return s;
}

bool is_image_name(const fs::path& p) {
  const std::string name = p.filename().string();
  if (name.empty() || name[0] == '.') return false;
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return std::find(kExtensions.begin(), kExtensions.end(), ext) != kExtensions.end();
}

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

void require_dir(const fs::path& p, const std::string& what) {
  std::error_code ec;
  if (!fs::exists(p, ec)) fail(p.string(), what + " not found");
  if (!fs::is_directory(p, ec)) fail(p.string(), what + " is not a folder");
}

// Sorted by file name (byte order); std::filesystem's iteration order is unspecified.
std::vector<fs::path> sorted_entries(const fs::path& folder, bool want_dirs) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    if (want_dirs ? is_dir(p) && p.filename().string()[0] != '.' : !is_dir(p) && is_image_name(p))
      out.push_back(p);
  }
  if (ec) fail(folder.string(), "cannot list folder: " + ec.message());
  std::sort(out.begin(), out.end(), [](const fs::path& a, const fs::path& b) {
    return a.filename().string() < b.filename().string();
  });
  return out;
}

std::vector<fs::path> images_in(const fs::path& folder) {
  std::vector<fs::path> files = sorted_entries(folder, false);
  if (files.empty()) fail(folder.string(), std::string("no images (") + kImageExtensions + ")");
  return files;
}

ImageRecord make_record(const fs::path& path, const std::string& defect_type) {
  ImageRecord r;
  r.path = path.string();
  r.defect_type = defect_type;
  r.stem = path.stem().string();
  const ImageInfo info = probe_image(r.path);
  r.width = info.width;
  r.height = info.height;
  return r;
}

std::string available_categories(const fs::path& data_dir) {
  std::string names;
  for (const fs::path& p : sorted_entries(data_dir, true))
    names += (names.empty() ? "" : ", ") + p.filename().string();
  return names.empty() ? "none" : names;
}

// The mask of a defect image: <stem>_mask.<ext> (MVTec's name), else <stem>.<ext>, in
// ground_truth/<defect_type>/, for the image extensions in kExtensions' order (lower or upper case).
fs::path find_mask(const fs::path& folder, const std::string& stem) {
  std::error_code ec;
  for (const std::string& base : {stem + "_mask", stem})
    for (const std::string& ext : kExtensions)
      for (const std::string& e : {ext, upper(ext)}) {
        const fs::path candidate = folder / (base + e);
        if (fs::is_regular_file(candidate, ec)) return candidate;
      }
  return {};
}

void add_mask(ImageRecord& r, const fs::path& category_dir) {
  const fs::path folder = category_dir / "ground_truth" / r.defect_type;
  const fs::path mask = find_mask(folder, r.stem);
  if (mask.empty())
    fail(r.path, "defect image has no mask (expected " + (folder / (r.stem + "_mask.png")).string() +
                     ", or " + r.stem + "_mask or " + r.stem + " with another image extension: " + kImageExtensions +
                     ")");
  const ImageInfo info = probe_image(mask.string());
  if (info.width != r.width || info.height != r.height)
    fail_mask_size(mask.string(), info.width, info.height, r.path, r.width, r.height);
  r.mask_path = mask.string();
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

std::vector<ImageRecord> read_list(const fs::path& list) {
  std::ifstream in(list);
  if (!in) fail(list.string(), "cannot read the image list");
  std::vector<ImageRecord> records;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    fs::path p(line);
    if (p.is_relative()) p = list.parent_path() / p;
    std::error_code ec;
    if (!fs::is_regular_file(p, ec))
      fail(list.string() + ":" + std::to_string(number), "listed image " + p.string() + " not found");
    records.push_back(make_record(p, ""));
  }
  if (records.empty()) fail(list.string(), "the image list names no images");
  return records;
}

// Every image under `folder`, at any depth, sorted by its path relative to `folder` (byte order).
std::vector<fs::path> images_below(const fs::path& folder) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(folder, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.empty() && name[0] == '.') {
      std::error_code own;  // a hidden dangling link (an editor's lock file) must not end the listing
      if (it->is_directory(own)) it.disable_recursion_pending();  // hidden folders are skipped
      continue;
    }
    if (!is_dir(it->path()) && is_image_name(it->path())) out.push_back(it->path());
  }
  if (ec) fail(folder.string(), "cannot list folder: " + ec.message());
  std::sort(out.begin(), out.end(), [&](const fs::path& a, const fs::path& b) {
    return a.lexically_relative(folder).string() < b.lexically_relative(folder).string();
  });
  if (out.empty()) fail(folder.string(), std::string("no images (") + kImageExtensions + ", searched recursively)");
  return out;
}

// A deterministic 64-bit hash of a relative path and the seed (FNV-1a, then splitmix64's finalizer).
uint64_t split_hash(const std::string& relative, uint64_t seed) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : relative) h = (h ^ c) * 1099511628211ull;
  h ^= seed + 0x9E3779B97F4A7C15ull;
  h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
  h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
  return h ^ (h >> 31);
}

// A folder's images, searched recursively, as records; nested ones are named with their subfolders ("sub/a.png" ->
// stem "sub_a").
std::vector<ImageRecord> nested_records(const fs::path& folder, const std::string& defect_type) {
  std::vector<ImageRecord> out;
  for (const fs::path& p : images_below(folder)) {
    ImageRecord r = make_record(p, defect_type);
    std::string stem = p.lexically_relative(folder).replace_extension().string();
    std::replace(stem.begin(), stem.end(), '/', '_');
    r.stem = stem;
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<ImageRecord> normal_records(const fs::path& folder) { return nested_records(folder, "good"); }

// A folder dataset's mask of a defective image: <stem>[_mask].<ext> in mask_dir/<type>/, else in mask_dir.
void add_folder_mask(ImageRecord& r, const fs::path& mask_dir) {
  fs::path mask = find_mask(mask_dir / r.defect_type, r.stem);
  if (mask.empty()) mask = find_mask(mask_dir, r.stem);
  std::error_code ec;
  if (!mask.empty() && fs::equivalent(mask, r.path, ec))
    fail(r.path, "is its own mask: --mask_dir must not be an --abnormal_dir (or hold it as <defect type>/)");
  if (mask.empty())
    fail(r.path, "defect image has no mask (expected " + r.stem + "_mask or " + r.stem + " with an image extension (" +
                     kImageExtensions + ") in " + (mask_dir / r.defect_type).string() + " or " + mask_dir.string() +
                     ")");
  const ImageInfo info = probe_image(mask.string());
  if (info.width != r.width || info.height != r.height)
    fail_mask_size(mask.string(), info.width, info.height, r.path, r.width, r.height);
  r.mask_path = mask.string();
}

}  // namespace

std::vector<bool> hash_split(const std::vector<std::string>& keys, double fraction, uint64_t seed) {
  std::vector<bool> chosen(keys.size(), false);
  if (!(fraction > 0) || keys.empty()) return chosen;
  const size_t k = std::min(keys.size(), std::max<size_t>(1, size_t(std::lround(fraction * double(keys.size())))));
  std::vector<std::pair<uint64_t, size_t>> order;
  for (size_t i = 0; i < keys.size(); ++i) order.push_back({split_hash(keys[i], seed), i});
  std::sort(order.begin(), order.end());
  for (size_t j = 0; j < k; ++j) chosen[order[j].second] = true;
  return chosen;
}

ValidationSplit split_validation(std::vector<ImageRecord> records, double fraction, uint64_t seed) {
  ValidationSplit out;
  if (!(fraction >= 0.0 && fraction < 1.0))
    throw std::invalid_argument("--val_split must be in [0, 1), got " + std::to_string(fraction));
  // Keyed by the stem (unique within a training set, and the same for an MVTec folder wherever it lies); the
  // seed is salted so that the validation images are independent of a --test_split's.
  std::vector<std::string> keys;
  for (const ImageRecord& r : records) keys.push_back(r.stem);
  const std::vector<bool> held_out = hash_split(keys, fraction, seed ^ 0x76616c6964617465ull);
  for (size_t i = 0; i < records.size(); ++i)
    (held_out[i] ? out.validation : out.train).push_back(std::move(records[i]));
  if (fraction > 0 && out.train.empty())
    throw std::invalid_argument("--val_split " + std::to_string(fraction) + " of " +
                                std::to_string(records.size()) + " training images leaves none for training");
  return out;
}

std::vector<ImageRecord> scan_folders(const FolderDataset& d, uint64_t seed, Split split) {
  require_dir(d.normal_dir, "normal image folder (--normal_dir)");
  if (!(d.test_split >= 0.0 && d.test_split < 1.0))
    throw std::invalid_argument("--test_split must be in [0, 1), got " + std::to_string(d.test_split));
  if (d.test_split > 0 && !d.normal_test_dir.empty())
    throw std::invalid_argument("give --normal_test_dir or --test_split, not both");
  const fs::path normal_dir(d.normal_dir);
  std::vector<ImageRecord> normal = normal_records(normal_dir);
  // The held-out images: the smallest hashes; at least one when a split is asked for.
  std::vector<bool> held_out(normal.size(), false);
  if (d.test_split > 0) {
    std::vector<std::string> keys;
    for (const ImageRecord& r : normal) keys.push_back(fs::path(r.path).lexically_relative(normal_dir).string());
    held_out = hash_split(keys, d.test_split, seed);
    if (std::count(held_out.begin(), held_out.end(), true) >= long(normal.size()))
      fail(d.normal_dir, "--test_split " + std::to_string(d.test_split) + " of " + std::to_string(normal.size()) +
                             " images leaves none for training");
  }
  std::vector<ImageRecord> records;
  if (split == Split::train) {
    for (size_t i = 0; i < normal.size(); ++i)
      if (!held_out[i]) records.push_back(normal[i]);
    return records;
  }
  if (!d.normal_test_dir.empty()) {
    require_dir(d.normal_test_dir, "normal test image folder (--normal_test_dir)");
    records = normal_records(d.normal_test_dir);
  } else {
    for (size_t i = 0; i < normal.size(); ++i)
      if (held_out[i]) records.push_back(normal[i]);
  }
  if (records.empty())
    fail(d.normal_dir, "no normal test images: give --normal_test_dir or --test_split (e.g. 0.2)");
  if (d.abnormal_dirs.empty()) throw std::invalid_argument("testing needs defective images (--abnormal_dir)");
  if (!d.mask_dir.empty()) require_dir(d.mask_dir, "mask folder (--mask_dir)");
  for (const std::string& dir : d.abnormal_dirs) {
    require_dir(dir, "defective image folder (--abnormal_dir)");
    const fs::path folder(dir);
    std::vector<std::pair<std::string, fs::path>> sources;  // (defect type, folder)
    fs::path named = folder.lexically_normal();  // "abnormal/" names its images "abnormal"
    if (named.filename().empty()) named = named.parent_path();
    if (!sorted_entries(folder, false).empty()) sources.push_back({named.filename().string(), folder});
    for (const fs::path& sub : sorted_entries(folder, true)) sources.push_back({sub.filename().string(), sub});
    if (sources.empty()) fail(dir, std::string("no images (") + kImageExtensions + ") and no defect-type subfolders");
    for (const auto& [type, source] : sources)
      for (const fs::path& p : images_in(source)) {
        ImageRecord r = make_record(p, type);
        r.anomalous = true;
        if (!d.mask_dir.empty()) add_folder_mask(r, d.mask_dir);
        records.push_back(std::move(r));
      }
  }
  return records;
}

std::vector<ImageRecord> scan_split(const std::string& data_dir, const std::string& category, Split split) {
  require_dir(data_dir, "dataset folder");
  const fs::path category_dir = fs::path(data_dir) / category;
  std::error_code ec;
  if (category.empty() || !fs::is_directory(category_dir, ec))
    fail(category_dir.string(), "category folder not found (categories in " + data_dir + ": " +
                                    available_categories(data_dir) + ")");
  std::vector<ImageRecord> records;
  if (split == Split::train) {
    const fs::path good = category_dir / "train" / "good";
    require_dir(good, "training folder");
    for (const fs::path& p : images_in(good)) records.push_back(make_record(p, "good"));
    return records;
  }
  const fs::path test = category_dir / "test";
  require_dir(test, "test folder");
  const std::vector<fs::path> types = sorted_entries(test, true);
  if (types.empty()) fail(test.string(), "no defect-type folders (expected test/good, test/<defect_type>)");
  for (const fs::path& type_dir : types) {
    const std::string type = type_dir.filename().string();
    for (const fs::path& p : images_in(type_dir)) {
      ImageRecord r = make_record(p, type);
      r.anomalous = type != "good";
      if (r.anomalous) add_mask(r, category_dir);
      records.push_back(std::move(r));
    }
  }
  return records;
}

std::vector<ImageRecord> scan_images(const std::string& source) {
  const fs::path p(source);
  std::error_code ec;
  if (!fs::exists(p, ec)) fail(source, "not found (expected a folder of images, an image or a list of paths)");
  if (fs::is_directory(p, ec)) return nested_records(p, "");
  if (is_image_name(p)) return {make_record(p, "")};
  return read_list(p);
}

void normalize_image(const uint8_t* rgb, int size, const Preprocess& preprocess, float* out) {
  const size_t plane = size_t(size) * size_t(size);
  for (int c = 0; c < 3; ++c) {
    float* o = out + size_t(c) * plane;
    for (size_t i = 0; i < plane; ++i)
      o[i] = (float(rgb[i * 3 + size_t(c)]) / 255.0f - preprocess.mean[c]) / preprocess.std[c];
  }
}

Image8 load_mask(const std::string& mask_path, const std::string& image_path, int width, int height, int size) {
  const Image8 mask = read_image_gray(mask_path);
  if (mask.width != width || mask.height != height)
    fail_mask_size(mask_path, mask.width, mask.height, image_path, width, height);
  return resize_bilinear(mask, size, size);
}

ImageSet load_images(const std::vector<ImageRecord>& records, const Preprocess& preprocess, bool with_masks,
                     const ProgressFn& progress) {
  const int s = preprocess.size;
  if (s <= 0) throw std::invalid_argument("image size must be positive, got " + std::to_string(s));
  for (int c = 0; c < 3; ++c)
    if (!(preprocess.std[c] != 0.0f))
      throw std::invalid_argument("normalization std[" + std::to_string(c) + "] must be non-zero");
  ImageSet set;
  set.records = records;
  set.size = s;
  const size_t n = records.size(), plane = set.plane();
  // The cache holds every image three times per pixel as float and as 8-bit RGB (and the mask): say so, with what
  // would fit, rather than fail in the allocator with a bare std::bad_alloc.
  const double per_pixel = 3 * sizeof(float) + 3 + (with_masks ? 1 : 0);
  const double need = double(n) * double(s) * double(s) * per_pixel;
  const double total = memory_limit_bytes();
  auto too_big = [&](const std::string& what) {
    const int fits = int(std::sqrt(std::max(0.0, total) / std::max(1.0, double(n) * per_pixel)));
    return std::runtime_error(what + ": " + std::to_string(n) + " images at " + std::to_string(s) + "x" +
                              std::to_string(s) + " need " + std::to_string(int64_t(need / 1048576)) +
                              " MiB for the decoded images, this process may use " +
                              std::to_string(int64_t(total / 1048576)) + " MiB; at most about --size " +
                              std::to_string(fits) + " fits");
  };
  if (total > 0 && need > total) throw too_big("not enough memory for the images");
  try {
    set.pixels.resize(n * 3 * plane);
    set.rgb.resize(n * 3 * plane);
    if (with_masks) set.masks.assign(n * plane, 0);
  } catch (const std::bad_alloc&) {
    throw too_big("out of memory allocating the images");
  }

  // Exceptions cannot leave an OpenMP loop: each image keeps its own error, and the first one in order is thrown.
  std::vector<std::string> errors(n);
  size_t done = 0;
#pragma omp parallel for schedule(dynamic)
  for (long i = 0; i < long(n); ++i) {
    const ImageRecord& r = records[size_t(i)];
    try {
      const Image8 original = read_image_rgb(r.path);
      const Image8 img = resize_bilinear(original, s, s);
      std::copy(img.data.begin(), img.data.end(), set.rgb.begin() + long(size_t(i) * 3 * plane));
      normalize_image(img.data.data(), s, preprocess, &set.pixels[size_t(i) * 3 * plane]);
      if (with_masks && r.anomalous) {
        const Image8 m = load_mask(r.mask_path, r.path, original.width, original.height, s);
        std::copy(m.data.begin(), m.data.end(), set.masks.begin() + long(size_t(i) * plane));
      }
    } catch (const std::exception& e) {
      errors[size_t(i)] = e.what();
    }
#pragma omp critical(stfpm_load_progress)
    {
      ++done;
      if (progress) progress(done, n);
    }
  }
  for (const std::string& e : errors)
    if (!e.empty()) throw std::runtime_error(e);
  return set;
}

}  // namespace stfpm
