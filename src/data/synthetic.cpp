#include "data/synthetic.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>

namespace fs = std::filesystem;

namespace stfpm {

namespace {

constexpr double kPi = 3.14159265358979323846;

uint64_t splitmix64(uint64_t x) {
  uint64_t z = x + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ull;
  return h;
}

// SplitMix64 as our own generator: std::uniform_real_distribution differs between standard libraries, the files
// must not.
class Rng {
 public:
  explicit Rng(uint64_t key) : state_(key) {}
  double uniform() {  // [0, 1)
    const uint64_t r = splitmix64(state_);
    state_ += 0x9E3779B97F4A7C15ull;
    return double(r >> 11) * 0x1.0p-53;
  }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

 private:
  uint64_t state_;
};

using Rgb = std::array<double, 3>;

// A float RGB canvas; converted to 8 bits once at the end.
struct Canvas {
  int size;
  std::vector<Rgb> px;
  Rgb& at(int x, int y) { return px[size_t(y) * size_t(size) + size_t(x)]; }
};

// Smooth value noise in [-1, 1]: random values on a coarse grid, interpolated with smoothstep.
class ValueNoise {
 public:
  ValueNoise(Rng& rng, int size, int cell) : cell_(cell), n_(size / cell + 2), v_(size_t(n_) * size_t(n_)) {
    for (double& v : v_) v = rng.uniform(-1.0, 1.0);
  }
  double at(int x, int y) const {
    const double fx = double(x) / cell_, fy = double(y) / cell_;
    const int ix = int(fx), iy = int(fy);
    const double tx = smooth(fx - ix), ty = smooth(fy - iy);
    const double top = lerp(get(ix, iy), get(ix + 1, iy), tx);
    const double bottom = lerp(get(ix, iy + 1), get(ix + 1, iy + 1), tx);
    return lerp(top, bottom, ty);
  }

 private:
  static double smooth(double t) { return t * t * (3.0 - 2.0 * t); }
  static double lerp(double a, double b, double t) { return a + (b - a) * t; }
  double get(int x, int y) const { return v_[size_t(y) * size_t(n_) + size_t(x)]; }
  int cell_, n_;
  std::vector<double> v_;
};

// A plain weave: in alternate cells the horizontal or the vertical thread is on top; a thread is bright along its
// middle and dark at its edges. Period, phase, angle, colour and shading differ per image.
Canvas woven_surface(Rng& rng, int size) {
  const double period = rng.uniform(8.0, 10.0);
  const double phase_x = rng.uniform(0.0, period), phase_y = rng.uniform(0.0, period);
  const double angle = rng.uniform(-0.06, 0.06), ca = std::cos(angle), sa = std::sin(angle);
  const double brightness = rng.uniform(0.92, 1.08);
  const Rgb base = {0.62 * brightness + rng.uniform(-0.02, 0.02), 0.52 * brightness + rng.uniform(-0.02, 0.02),
                    0.37 * brightness + rng.uniform(-0.02, 0.02)};
  const ValueNoise shading(rng, size, 16);
  Canvas c{size, std::vector<Rgb>(size_t(size) * size_t(size))};
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      const double u = (ca * x - sa * y + phase_x) / period, v = (sa * x + ca * y + phase_y) / period;
      const bool horizontal_on_top = (long(std::floor(u)) + long(std::floor(v))) % 2 == 0;
      const double across = horizontal_on_top ? v - std::floor(v) : u - std::floor(u);
      const double thread = 0.70 + 0.30 * std::sin(kPi * across);
      const double level = thread * (1.0 + 0.07 * shading.at(x, y)) + rng.uniform(-0.025, 0.025);
      for (int ch = 0; ch < 3; ++ch) c.at(x, y)[size_t(ch)] = base[size_t(ch)] * level;
    }
  return c;
}

// An irregular closed shape: a radius modulated by three random harmonics of the angle.
struct Blob {
  double cx, cy, r0, a[3], phase[3];
  double radius(double theta) const {
    double r = 1.0;
    for (int k = 0; k < 3; ++k) r += a[k] * std::sin((k + 1) * theta + phase[k]);
    return r0 * r;
  }
  bool contains(double x, double y) const {
    const double dx = x - cx, dy = y - cy;
    return std::sqrt(dx * dx + dy * dy) < radius(std::atan2(dy, dx));
  }
};

Blob random_blob(Rng& rng, int size, double r_lo, double r_hi) {
  Blob b;
  b.r0 = rng.uniform(r_lo, r_hi) * size;
  const double margin = b.r0 * 1.5 + 2.0;  // the modulation stays below +45%
  b.cx = rng.uniform(margin, size - margin);
  b.cy = rng.uniform(margin, size - margin);
  const double amp[3] = {0.2, 0.15, 0.1};
  for (int k = 0; k < 3; ++k) b.a[k] = rng.uniform(-amp[k], amp[k]), b.phase[k] = rng.uniform(0.0, 2 * kPi);
  return b;
}

// A thin curve whose direction turns smoothly: a random walk of the heading.
void paint_scratch(Rng& rng, Canvas& c, std::vector<uint8_t>& mask) {
  const int size = c.size;
  const double half_width = rng.uniform(0.7, 1.2);
  const double length = rng.uniform(0.3, 0.6) * size;
  double x = rng.uniform(0.25, 0.75) * size, y = rng.uniform(0.25, 0.75) * size;
  double heading = rng.uniform(0.0, 2 * kPi), turn = rng.uniform(-0.03, 0.03);
  const double max_turn = 0.035;  // per half pixel: a radius of curvature of at least 14 pixels, no tight curls
  const bool bright = rng.uniform() < 0.5;
  const Rgb colour = bright ? Rgb{0.96, 0.94, 0.90} : Rgb{0.10, 0.08, 0.07};
  for (double t = 0.0; t < length; t += 0.5) {
    turn = std::clamp(turn + rng.uniform(-0.01, 0.01), -max_turn, max_turn);
    heading += turn;
    x += 0.5 * std::cos(heading), y += 0.5 * std::sin(heading);
    const int x0 = std::max(int(std::floor(x - half_width)), 0);
    const int x1 = std::min(int(std::ceil(x + half_width)), size - 1);
    const int y0 = std::max(int(std::floor(y - half_width)), 0);
    const int y1 = std::min(int(std::ceil(y + half_width)), size - 1);
    for (int py = y0; py <= y1; ++py)
      for (int px = x0; px <= x1; ++px) {
        const double dx = px + 0.5 - x, dy = py + 0.5 - y;
        if (dx * dx + dy * dy > half_width * half_width) continue;
        mask[size_t(py) * size_t(size) + size_t(px)] = 255;
        c.at(px, py) = colour;
      }
  }
}

// Fills a blob with colour(x, y, distance from the centre / r0).
template <typename ColourFn>
void paint_blob(const Blob& b, Canvas& c, std::vector<uint8_t>& mask, ColourFn colour) {
  for (int y = 0; y < c.size; ++y)
    for (int x = 0; x < c.size; ++x) {
      const double px = x + 0.5, py = y + 0.5;
      if (!b.contains(px, py)) continue;
      mask[size_t(y) * size_t(c.size) + size_t(x)] = 255;
      c.at(x, y) = colour(x, y, std::hypot(px - b.cx, py - b.cy) / b.r0);
    }
}

void paint_spot(Rng& rng, Canvas& c, std::vector<uint8_t>& mask) {
  const Blob b = random_blob(rng, c.size, 0.05, 0.10);
  const Rgb rust = {0.55, 0.22, 0.12}, teal = {0.18, 0.42, 0.48};
  const Rgb hue = rng.uniform() < 0.5 ? rust : teal;
  const ValueNoise mottle(rng, c.size, 3);
  paint_blob(b, c, mask, [&](int x, int y, double) {
    const double m = 1.0 + 0.25 * mottle.at(x, y);
    return Rgb{hue[0] * m, hue[1] * m, hue[2] * m};
  });
}

void paint_hole(Rng& rng, Canvas& c, std::vector<uint8_t>& mask) {
  const Blob b = random_blob(rng, c.size, 0.04, 0.08);
  paint_blob(b, c, mask, [](int, int, double rel) {
    const double v = 0.04 + 0.08 * std::min(rel, 1.4);  // darkest in the middle
    return Rgb{v, v * 0.9, v * 0.85};
  });
}

Image8 to_image(const Canvas& c) {
  Image8 img(c.size, c.size, 3);
  for (size_t i = 0; i < c.px.size(); ++i)
    for (int ch = 0; ch < 3; ++ch)
      img.data[i * 3 + size_t(ch)] = uint8_t(std::lround(std::clamp(c.px[i][size_t(ch)], 0.0, 1.0) * 255.0));
  return img;
}

std::string three_digits(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%03d", i);
  return buf;
}

void make_dirs(const fs::path& p) {
  std::error_code ec;
  fs::create_directories(p, ec);
  if (ec) throw std::runtime_error(p.string() + ": cannot create folder: " + ec.message());
}

}  // namespace

const std::vector<std::string>& synthetic_defect_types() {
  static const std::vector<std::string> types = {"hole", "scratch", "spot"};
  return types;
}

void validate(const SyntheticOptions& o) {
  auto bad = [](const std::string& what) { throw std::invalid_argument("synthetic dataset: " + what); };
  if (o.category.empty() || o.category.find('/') != std::string::npos || o.category[0] == '.')
    bad("category '" + o.category + "' is not a plain folder name");
  if (o.size < 64 || o.size > 256) bad("size " + std::to_string(o.size) + " is outside 64..256");
  if (o.train_count < 1 || o.test_good_count < 1 || o.per_defect_count < 1)
    bad("train, test-good and per-defect counts must be at least 1");
  if (o.train_count > 999 || o.test_good_count > 999 || o.per_defect_count > 999)
    bad("counts above 999 do not fit the 3-digit file names");
  if (o.defect_types.empty()) bad("no defect types");
  std::set<std::string> seen;
  const auto& known = synthetic_defect_types();
  for (const std::string& t : o.defect_types) {
    if (std::find(known.begin(), known.end(), t) == known.end())
      bad("unknown defect type '" + t + "' (known: hole, scratch, spot)");
    if (!seen.insert(t).second) bad("defect type '" + t + "' listed twice");
  }
}

SyntheticSample synthetic_sample(const SyntheticOptions& o, Split split, const std::string& defect_type, int index) {
  validate(o);
  const auto& known = synthetic_defect_types();
  if (defect_type != "good" && std::find(known.begin(), known.end(), defect_type) == known.end())
    throw std::invalid_argument("synthetic dataset: unknown defect type '" + defect_type + "'");
  if (split == Split::train && defect_type != "good")
    throw std::invalid_argument("synthetic dataset: training images are always 'good'");
  const uint64_t key = splitmix64(o.seed ^ splitmix64(fnv1a(defect_type) + (split == Split::train ? 1 : 2))) +
                       uint64_t(index) * 0x9E3779B97F4A7C15ull;
  Rng rng(splitmix64(key));
  Canvas canvas = woven_surface(rng, o.size);
  SyntheticSample s;
  s.clean = to_image(canvas);
  std::vector<uint8_t> mask(size_t(o.size) * size_t(o.size), 0);
  if (defect_type == "scratch") paint_scratch(rng, canvas, mask);
  if (defect_type == "spot") paint_spot(rng, canvas, mask);
  if (defect_type == "hole") paint_hole(rng, canvas, mask);
  s.image = to_image(canvas);
  s.mask = Image8(o.size, o.size, 1);
  s.mask.data = std::move(mask);
  return s;
}

void write_synthetic_dataset(const std::string& data_dir, const SyntheticOptions& o) {
  validate(o);
  const fs::path root = fs::path(data_dir) / o.category;
  const fs::path marker = root / "synthetic.txt";
  std::error_code ec;
  if (fs::exists(root, ec)) {
    if (!fs::is_regular_file(marker, ec))
      throw std::runtime_error(root.string() + ": already exists and is not a synthetic dataset (no synthetic.txt); "
                               "remove it or choose another folder");
    fs::remove_all(root, ec);
    if (ec) throw std::runtime_error(root.string() + ": cannot replace the old synthetic dataset: " + ec.message());
  }
  make_dirs(root);
  {
    std::ofstream m(marker);
    m << "stfpm synthetic dataset (MVTec AD layout), made by write_synthetic_dataset\n"
      << "seed " << o.seed << "\nsize " << o.size << "\ntrain " << o.train_count << "\ntest_good "
      << o.test_good_count << "\nper_defect " << o.per_defect_count << "\ndefect_types";
    for (const std::string& t : o.defect_types) m << ' ' << t;
    m << '\n';
    if (!m.flush()) throw std::runtime_error(marker.string() + ": cannot write");
  }
  auto write_set = [&](Split split, const std::string& type, int count) {
    const fs::path dir = root / (split == Split::train ? "train" : "test") / type;
    make_dirs(dir);
    const fs::path gt = root / "ground_truth" / type;
    if (type != "good") make_dirs(gt);
    for (int i = 0; i < count; ++i) {
      const SyntheticSample s = synthetic_sample(o, split, type, i);
      write_png((dir / (three_digits(i) + ".png")).string(), s.image);
      if (type != "good") write_png((gt / (three_digits(i) + "_mask.png")).string(), s.mask);
    }
  };
  write_set(Split::train, "good", o.train_count);
  write_set(Split::test, "good", o.test_good_count);
  for (const std::string& t : o.defect_types) write_set(Split::test, t, o.per_defect_count);
}

}  // namespace stfpm
