#include "cpu/winograd.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "cpu/vector_clones.h"

namespace stfpm {
namespace {

// Tiles (or input channels, for the filters) transformed together, one per vector lane. Scratch arrays hold
// element e of every lane at [e * kLanes + lane].
constexpr int kLanes = 16;

// A chunk of tiles is transformed, multiplied and transformed back before the next: as many tiles as keep its
// V and M within this many bytes (the last-level cache share of two cores), in multiples of kLanes.
constexpr long kChunkBytes = 4L << 20;

// STFPM_CPU_CONV=direct|automatic sets the starting choice, for comparing them with `stfpm profile`. Read on
// first use, so that a bad value is an error of the first convolution, with the op's context.
ConvAlgorithm from_environment() {
  const char* v = std::getenv("STFPM_CPU_CONV");
  const std::string name = v ? v : "";
  if (name == "direct") return ConvAlgorithm::direct;
  if (!name.empty() && name != "automatic")
    throw std::runtime_error("STFPM_CPU_CONV=" + name + ": expected direct or automatic");
  return ConvAlgorithm::automatic;
}

std::atomic<int> chosen{-1};  // -1: not read yet

ConvAlgorithm current() {
  int v = chosen.load();
  if (v < 0) {
    v = int(from_environment());
    chosen.store(v);
  }
  return ConvAlgorithm(v);
}

// The 1-D transforms, each on kLanes columns at once: six (or three) values per lane, `in_step` floats apart in,
// `out_step` floats apart out (a row of a 6x6 lane grid is 1 * kLanes apart, a column 6 * kLanes).

// A^T m: the output transform, six values to four.
inline void output_1d(const float* m, int in_step, float* o, int out_step) {
  for (int l = 0; l < kLanes; ++l) {
    const float m0 = m[l], m1 = m[in_step + l], m2 = m[2 * in_step + l], m3 = m[3 * in_step + l],
                m4 = m[4 * in_step + l], m5 = m[5 * in_step + l];
    const float sum12 = m1 + m2, diff12 = m1 - m2, sum34 = m3 + m4, diff34 = m3 - m4;
    o[l] = m0 + sum12 + sum34;
    o[out_step + l] = diff12 + 2.0f * diff34;
    o[2 * out_step + l] = sum12 + 4.0f * sum34;
    o[3 * out_step + l] = diff12 + 8.0f * diff34 + m5;
  }
}

// A e: the output gradient's tile transform for the filter gradient, four values to six (A^T's transpose), per
// lane over n lanes: four rows in, six rows out, the outputs distinct from everything (so that it vectorizes).
inline void grad_6_rows(const float* __restrict e0, const float* __restrict e1, const float* __restrict e2,
                        const float* __restrict e3, float* __restrict o0, float* __restrict o1,
                        float* __restrict o2, float* __restrict o3, float* __restrict o4, float* __restrict o5,
                        int n) {
  for (int q = 0; q < n; ++q) {
    const float a0 = e0[q], a1 = e1[q], a2 = e2[q], a3 = e3[q];
    const float even = a0 + a2, odd = a1 + a3, even4 = a0 + 4.0f * a2, odd4 = a1 + 4.0f * a3;
    o0[q] = a0;
    o1[q] = even + odd;
    o2[q] = even - odd;
    o3[q] = even4 + 2.0f * odd4;
    o4[q] = even4 - 2.0f * odd4;
    o5[q] = a3;
  }
}

// G^T s: the filter gradient's output transform, six values to three, on kLanes columns at once.
inline void filter_grad_1d(const float* s, int in_step, float* o, int out_step) {
  for (int l = 0; l < kLanes; ++l) {
    const float s0 = s[l], s1 = s[in_step + l], s2 = s[2 * in_step + l], s3 = s[3 * in_step + l],
                s4 = s[4 * in_step + l], s5 = s[5 * in_step + l];
    const float sum12 = s1 + s2, sum34 = s3 + s4;
    o[l] = s0 * (1.0f / 4.0f) + (sum34 * (1.0f / 24.0f) - sum12 * (1.0f / 6.0f));
    o[out_step + l] = (s2 - s1) * (1.0f / 6.0f) + (s3 - s4) * (1.0f / 12.0f);
    o[2 * out_step + l] = (sum34 - sum12) * (1.0f / 6.0f) + s5;
  }
}

// G g: the filter transform, three values to six.
inline void filter_1d(const float* g, int in_step, float* o, int out_step) {
  for (int l = 0; l < kLanes; ++l) {
    const float g0 = g[l], g1 = g[in_step + l], g2 = g[2 * in_step + l];
    o[l] = g0 * (1.0f / 4.0f);
    o[out_step + l] = (g0 + g1 + g2) * (-1.0f / 6.0f);
    o[2 * out_step + l] = (g0 - g1 + g2) * (-1.0f / 6.0f);
    o[3 * out_step + l] = (g0 + 2.0f * g1 + 4.0f * g2) * (1.0f / 24.0f);
    o[4 * out_step + l] = (g0 - 2.0f * g1 + 4.0f * g2) * (1.0f / 24.0f);
    o[5 * out_step + l] = g2;
  }
}

// Copies the first `lanes` lanes (all of them in the common case, as one vector).
inline void store_lanes(float* dst, const float* src, int lanes) {
  if (lanes == kLanes) {
    for (int l = 0; l < kLanes; ++l) dst[l] = src[l];
  } else {
    for (int l = 0; l < lanes; ++l) dst[l] = src[l];
  }
}

// U_xi's strip of output channels [o0, o0 + 6), written into packed[xi] for every input channel i: the 6x6
// transform of the filter pairing o with i, which is w[o][i] forward and w[i][o] rotated by 180 degrees for the
// backward data pass. Channels past out_c are the strip's zero padding.
STFPM_VECTOR_CLONES void transform_filter_strip(PackedMatrix* packed, const float* w, int out_c, int in_c,
                                                bool backward, int o0) {
  constexpr int kRows = PackedMatrix::kStripRows;
  alignas(64) float g[9 * kLanes], t[18 * kLanes], e[kRows][36 * kLanes];
  for (int i0 = 0; i0 < in_c; i0 += kLanes) {
    const int lanes = std::min(kLanes, in_c - i0);
    for (int r = 0; r < kRows; ++r) {
      const int o = o0 + r;
      if (o >= out_c) {
        std::fill(e[r], e[r] + 36 * kLanes, 0.0f);
        continue;
      }
      for (int l = 0; l < kLanes; ++l) {
        const int i = i0 + std::min(l, lanes - 1);  // spare lanes repeat the last channel and are not stored
        const float* f = w + (backward ? size_t(i) * out_c + o : size_t(o) * in_c + i) * 9;
        for (int rs = 0; rs < 9; ++rs) g[rs * kLanes + l] = f[backward ? 8 - rs : rs];
      }
      for (int s = 0; s < 3; ++s) filter_1d(g + s * kLanes, 3 * kLanes, t + s * kLanes, 3 * kLanes);  // G g
      for (int a = 0; a < 6; ++a) filter_1d(t + a * 3 * kLanes, kLanes, e[r] + a * 6 * kLanes, kLanes);  // (G g) G^T
    }
    for (int xi = 0; xi < 36; ++xi)
      for (int l = 0; l < lanes; ++l) {
        float* dst = packed[xi].strip(o0, i0 + l);
        for (int r = 0; r < kRows; ++r) dst[r] = e[r][xi * kLanes + l];
      }
  }
}

// The tiles from j0 on (before count) in the same image and tile row as tile j0: side by side, they share their
// input rows.
int run_length(const WinogradTile* tiles, int j0, int count) {
  int run = 1;
  while (j0 + run < count && tiles[j0 + run].n == tiles[j0].n && tiles[j0 + run].row == tiles[j0].row) ++run;
  return run;
}

// row[p * n + i] = line[4 * i + p] for p < 4, i < n: a row's columns by phase (modulo 4), each phase contiguous, so
// that a tile's four columns are one lane of four rows.
inline void split_phases(float* row, const float* line, int n) {
  float* __restrict p0 = row;
  float* __restrict p1 = row + n;
  float* __restrict p2 = row + 2 * n;
  float* __restrict p3 = row + 3 * n;
  const float* __restrict in = line;
  for (int i = 0; i < n; ++i) {
    p0[i] = in[4 * i];
    p1[i] = in[4 * i + 1];
    p2[i] = in[4 * i + 2];
    p3[i] = in[4 * i + 3];
  }
}

// B^T z, the input tile transform, of six values per lane over n lanes: six rows in, six rows out, the outputs
// distinct from everything (so that it vectorizes).
inline void input_6_rows(const float* __restrict z0, const float* __restrict z1, const float* __restrict z2,
                         const float* __restrict z3, const float* __restrict z4, const float* __restrict z5,
                         float* __restrict o0, float* __restrict o1, float* __restrict o2, float* __restrict o3,
                         float* __restrict o4, float* __restrict o5, int n) {
  for (int q = 0; q < n; ++q) {
    const float a0 = z0[q], a1 = z1[q], a2 = z2[q], a3 = z3[q], a4 = z4[q], a5 = z5[q];
    o0[q] = 4.0f * a0 - 5.0f * a2 + a4;
    o1[q] = (a3 + a4) - 4.0f * (a1 + a2);
    o2[q] = (a4 - a3) + 4.0f * (a1 - a2);
    o3[q] = (a4 - a2) + 2.0f * (a3 - a1);
    o4[q] = (a4 - a2) - 2.0f * (a3 - a1);
    o5[q] = 4.0f * a1 - 5.0f * a3 + a5;
  }
}

// Where the input transform writes element xi of tile j's transform in channel c. Tiles come in strips of
// `width`, within which consecutive tiles are consecutive floats.
struct TileLayout {
  float* base;
  long channel_step, xi_step, strip_step;
  int width;
  float* at(int c, int xi, int j) const {
    return base + c * channel_step + xi * xi_step + long(j / width) * strip_step + j % width;
  }
};
// v[c][xi][j], rows `ld` long: a channel's 36 rows side by side (the filter gradient's operand).
TileLayout rows_layout(float* v, long ld) { return {v, 36 * ld, ld, 0, 1 << 30}; }
// Floats between consecutive V_xi beyond their size: the 36 places a channel's transform writes to would otherwise
// lie a multiple of 4 KiB apart and evict each other from L1 (batch-1 inference ran 20% slower that way).
constexpr long kPackedSkew = 16;

// V_xi as the sgemm's packed right operand (gemm_packed_b): V_xi at v + xi * (in_c * padded + skew), padded being
// the tiles rounded up to the strip width, and in strip s channel c's `width` tiles side by side.
TileLayout packed_layout(float* v, int in_c, int count) {
  const int width = packed_b_width(count);
  const long padded = (count + width - 1) / width * long(width);
  return {v, width, in_c * padded + kPackedSkew, long(in_c) * width, width};
}

// V = B^T d B of tile j's 6x6 input, channel c of `in`, for j < count, written where `out` says. A run of tiles
// side by side shares its six input rows. They are copied once (zero in the padding), each split by column phase
// (column 4i + p at [p][i]), so that tile j's six columns are [0..3][j] and [0..1][j + 1]: transformed down the
// columns as whole rows, then across, every access contiguous.
STFPM_VECTOR_CLONES void transform_input_tiles(const TileLayout& out, const float* in, int in_c, int h, int w,
                                               const WinogradTile* tiles, int count, int c) {
  thread_local std::vector<float> scratch;
  for (int j0 = 0; j0 < count;) {
    const WinogradTile& first = tiles[j0];
    const int run = run_length(tiles, j0, count);
    const int width = 4 * run + 2, x0 = first.col - 1;  // input columns [x0, x0 + width)
    const int phase = run + 1, stride = 4 * phase;       // a phase's columns; a row in phase order
    scratch.resize(size_t(13) * stride);
    float* rows = scratch.data();                     // the six input rows, in phase order
    float* down = rows + size_t(6) * stride;          // B^T of each column, in phase order
    float* line = down + size_t(6) * stride;          // one input row in column order, zero-padded to stride
    const float* plane = in + (size_t(first.n) * in_c + c) * h * w;
    for (int a = 0; a < 6; ++a) {
      float* row = rows + size_t(a) * stride;
      const int r = first.row - 1 + a;
      if (r < 0 || r >= h) {
        std::fill(row, row + stride, 0.0f);
        continue;
      }
      const int q0 = std::max(0, -x0), q1 = std::min(width, w - x0);  // the columns inside the plane
      std::fill(line, line + q0, 0.0f);
      std::copy(plane + size_t(r) * w + x0 + q0, plane + size_t(r) * w + x0 + q1, line + q0);
      std::fill(line + q1, line + stride, 0.0f);
      split_phases(row, line, phase);
    }
    float* d[6];
    for (int k = 0; k < 6; ++k) d[k] = down + size_t(k) * stride;
    input_6_rows(rows, rows + stride, rows + 2 * stride, rows + 3 * stride, rows + 4 * stride, rows + 5 * stride,
                 d[0], d[1], d[2], d[3], d[4], d[5], stride);
    // The run in pieces that stay within a strip of the output.
    for (int j = j0; j < j0 + run;) {
      const int piece = std::min(j0 + run, (j / out.width + 1) * out.width) - j;
      for (int a = 0; a < 6; ++a) {
        const float* z = d[a] + (j - j0);
        float* o = out.at(c, a * 6, j);
        const long step = out.xi_step;
        input_6_rows(z, z + phase, z + 2 * phase, z + 3 * phase, z + 1, z + phase + 1, o, o + step, o + 2 * step,
                     o + 3 * step, o + 4 * step, o + 5 * step, piece);
      }
      j += piece;
    }
    j0 += run;
  }
}

// e[k][xi][j] for j < count (e's rows are `ld` long) = A g A^T of tile j's 4x4 block of channel k of `grad`
// (zero past the image): the output gradient's side of the filter gradient, a run of tiles at a time, its rows
// split by column phase as in transform_input_tiles.
STFPM_VECTOR_CLONES void transform_grad_tiles(float* e, long ld, const float* grad, int out_c, int h, int w,
                                              const WinogradTile* tiles, int count, int k) {
  thread_local std::vector<float> scratch;
  for (int j0 = 0; j0 < count;) {
    const WinogradTile& first = tiles[j0];
    const int run = run_length(tiles, j0, count);
    const int width = 4 * run;  // columns [first.col, first.col + width): `run` per phase
    scratch.resize(size_t(11) * width);
    float* rows = scratch.data();             // the four rows, in phase order (column 4i + p at [p][i])
    float* down = rows + size_t(4) * width;   // A of each column, in phase order
    float* line = down + size_t(6) * width;   // one row in column order
    const float* plane = grad + (size_t(first.n) * out_c + k) * h * w;
    for (int a = 0; a < 4; ++a) {
      float* row = rows + size_t(a) * width;
      const int r = first.row + a, inside = std::max(0, std::min(width, w - first.col));
      if (r >= h) {
        std::fill(row, row + width, 0.0f);
        continue;
      }
      std::copy(plane + size_t(r) * w + first.col, plane + size_t(r) * w + first.col + inside, line);
      std::fill(line + inside, line + width, 0.0f);
      split_phases(row, line, run);
    }
    float* d[6];
    for (int q = 0; q < 6; ++q) d[q] = down + size_t(q) * width;
    grad_6_rows(rows, rows + width, rows + 2 * width, rows + 3 * width, d[0], d[1], d[2], d[3], d[4], d[5], width);
    for (int a = 0; a < 6; ++a) {
      const float* z = d[a];
      float* o = e + (size_t(k) * 36 + a * 6) * ld + j0;
      grad_6_rows(z, z + run, z + 2 * run, z + 3 * run, o, o + ld, o + 2 * ld, o + 3 * ld, o + 4 * ld, o + 5 * ld,
                  run);
    }
    j0 += run;
  }
}

// dw[k][c] += G^T S G for output channels [k0, k0 + kLanes) and input channel c, S being the sums s[xi][c][k].
STFPM_VECTOR_CLONES void add_filter_grads(float* dw, const float* s, int in_c, int out_c, int k0, int c) {
  alignas(64) float p[36 * kLanes], q[18 * kLanes], r[9 * kLanes];
  const int lanes = std::min(kLanes, out_c - k0);
  for (int xi = 0; xi < 36; ++xi) {
    store_lanes(p + xi * kLanes, s + (size_t(xi) * in_c + c) * out_c + k0, lanes);
    std::fill(p + xi * kLanes + lanes, p + (xi + 1) * kLanes, 0.0f);
  }
  for (int b = 0; b < 6; ++b) filter_grad_1d(p + b * kLanes, 6 * kLanes, q + b * kLanes, 6 * kLanes);  // G^T S
  for (int i = 0; i < 3; ++i) filter_grad_1d(q + i * 6 * kLanes, kLanes, r + i * 3 * kLanes, kLanes);  // (G^T S) G
  for (int l = 0; l < lanes; ++l) {
    float* f = dw + (size_t(k0 + l) * in_c + c) * 9;
    for (int rs = 0; rs < 9; ++rs) f[rs] += r[rs * kLanes + l];
  }
}

// Output channel k of `out` in every tile j < count = A^T m A of m[k][xi][j] (m's rows are `ld` long), cropped
// where a tile's block reaches past the image, through the epilogue if there is one.
STFPM_VECTOR_CLONES void transform_output_tiles(float* out, int out_c, int h, int w, const float* m, long ld,
                                                const WinogradTile* tiles, int count, int k,
                                                const ConvEpilogue* epilogue) {
  alignas(64) float p[36 * kLanes], q[24 * kLanes], y[16 * kLanes];
  for (int j0 = 0; j0 < count; j0 += kLanes) {
    const int lanes = std::min(kLanes, count - j0);
    for (int xi = 0; xi < 36; ++xi) {
      const float* row = m + (size_t(k) * 36 + xi) * ld + j0;
      store_lanes(p + xi * kLanes, row, lanes);
      std::fill(p + xi * kLanes + lanes, p + (xi + 1) * kLanes, 0.0f);
    }
    for (int b = 0; b < 6; ++b) output_1d(p + b * kLanes, 6 * kLanes, q + b * kLanes, 6 * kLanes);  // A^T m
    for (int i = 0; i < 4; ++i) output_1d(q + i * 6 * kLanes, kLanes, y + i * 4 * kLanes, kLanes);  // (A^T m) A
    if (epilogue) {
      const float scale = epilogue->scale[k], shift = epilogue->shift[k];
      for (int e = 0; e < 16 * kLanes; ++e) {
        const float u = y[e] * scale + shift;
        y[e] = epilogue->relu && u < 0.0f ? 0.0f : u;
      }
    }
    for (int l0 = 0; l0 < lanes;) {
      const WinogradTile& tile = tiles[j0 + l0];
      float* plane = out + (size_t(tile.n) * out_c + k) * h * w;
      // A run of whole tiles side by side writes each of its four output rows as one stretch: the lanes' four
      // columns interleaved (vectorized), instead of 16 scattered values per tile.
      const int run = std::min(run_length(tiles + j0, l0, lanes), (w - tile.col) / 4);
      if (run > 0 && tile.row + 4 <= h) {
        for (int i = 0; i < 4; ++i) {
          float* dst = plane + size_t(tile.row + i) * w + tile.col;
          const float* src = y + i * 4 * kLanes + l0;
          for (int l = 0; l < run; ++l)
            for (int j = 0; j < 4; ++j) dst[4 * l + j] = src[j * kLanes + l];
        }
        l0 += run;
        continue;
      }
      const int rows = std::min(4, h - tile.row), cols = std::min(4, w - tile.col);
      for (int i = 0; i < rows; ++i)
        for (int j = 0; j < cols; ++j) plane[size_t(tile.row + i) * w + tile.col + j] = y[(i * 4 + j) * kLanes + l0];
      ++l0;
    }
  }
}

}  // namespace

bool winograd_applies(const ConvGeometry& g) {
  return g.r == 3 && g.s == 3 && g.stride == 1 && g.pad == 1 && g.c >= 16 && g.k >= 16 &&
         gemm_kernel() != GemmKernel::blas;  // U is written in our sgemm's packed form
}

bool use_winograd(const ConvGeometry& g) { return current() == ConvAlgorithm::automatic && winograd_applies(g); }

ConvAlgorithm conv_algorithm() { return current(); }
void set_conv_algorithm(ConvAlgorithm algorithm) { chosen.store(int(algorithm)); }

void WinogradFilterCache::release(Direction& d) {
  stored_bytes_ -= d.bytes;
  d.filters.reset();
  d.bytes = 0;
}

WinogradFilterCache::Slot WinogradFilterCache::slot(const float* w, int out_c, int in_c, bool backward,
                                                    size_t bytes) {
  const std::lock_guard<std::mutex> lock(mutex_);
  const size_t count = size_t(out_c) * in_c * 9;
  Entry& e = entries_[w];
  if (e.copy.size() != count || std::memcmp(e.copy.data(), w, count * sizeof(float)) != 0) {
    e.copy.assign(w, w + count);
    ++e.version;
    for (Direction& d : e.direction) release(d);
  }
  Direction& d = e.direction[backward ? 1 : 0];
  const int kernel = int(gemm_kernel());
  if (d.out_c != out_c || d.in_c != in_c || d.kernel != kernel) {  // the same floats read as another shape
    release(d);
    d.seen = 0;
    d.out_c = out_c, d.in_c = in_c, d.kernel = kernel;
  }
  if (d.filters) return {d.filters.get(), false};
  if (d.seen == e.version && stored_bytes_ + bytes <= kBudgetBytes) {  // unchanged since this direction's last call
    d.filters = std::make_unique<WinogradFilters>();
    d.bytes = bytes;
    stored_bytes_ += bytes;
    return {d.filters.get(), true};
  }
  d.seen = e.version;
  return {nullptr, true};
}

void WinogradFilterCache::drop(const float* w, bool backward) {
  const std::lock_guard<std::mutex> lock(mutex_);
  const auto it = entries_.find(w);
  if (it == entries_.end()) return;
  release(it->second.direction[backward ? 1 : 0]);
  it->second.direction[backward ? 1 : 0].seen = 0;
}

size_t WinogradFilterCache::stored_bytes() {
  const std::lock_guard<std::mutex> lock(mutex_);
  return stored_bytes_;
}

void WinogradFilterCache::forget(const float* begin, const float* end) {
  const std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = entries_.lower_bound(begin); it != entries_.end() && it->first < end;) {
    for (const Direction& d : it->second.direction) stored_bytes_ -= d.bytes;
    it = entries_.erase(it);
  }
}

void WinogradConv::forward(float* y, const float* x, const float* w, const ConvGeometry& g, int threads,
                           const ConvEpilogue* epilogue) {
  convolve(filters(w, g.k, g.c, false, threads), y, x, g.n, g.c, g.k, g.h, g.w, threads, epilogue);
}

void WinogradConv::backward_data(float* dx, const float* dy, const float* w, const ConvGeometry& g, int threads) {
  convolve(filters(w, g.c, g.k, true, threads), dx, dy, g.n, g.k, g.c, g.h, g.w, threads, nullptr);
}

const WinogradFilters& WinogradConv::filters(const float* w, int out_c, int in_c, bool backward, int threads) {
  constexpr int kRows = PackedMatrix::kStripRows;
  const int strips = (out_c + kRows - 1) / kRows;
  const size_t bytes = sizeof(float) * 36 * size_t(strips) * kRows * size_t(in_c);
  const WinogradFilterCache::Slot slot = cache_.slot(w, out_c, in_c, backward, bytes);
  WinogradFilters& u = slot.filters ? *slot.filters : packed_;
  if (slot.transform) {
    try {
      for (PackedMatrix& m : u) m.shape(out_c, in_c);
    } catch (...) {  // out of memory: a half-shaped U must not be served later
      if (slot.filters) cache_.drop(w, backward);
      throw;
    }
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int s = 0; s < strips; ++s) transform_filter_strip(u.data(), w, out_c, in_c, backward, s * kRows);
  }
  return u;
}

int WinogradConv::plan_tiles(int n, int in_c, int out_c, int h, int w) {
  const int tiles_h = (h + 3) / 4, tiles_w = (w + 3) / 4, total = n * tiles_h * tiles_w;
  table_.resize(size_t(total));
  for (int t = 0; t < total; ++t) {
    const int image = t / (tiles_h * tiles_w), within = t % (tiles_h * tiles_w);
    table_[size_t(t)] = {image, within / tiles_w * 4, within % tiles_w * 4};
  }
  // Chunks of equal size, each within kChunkBytes where possible.
  const long tile_bytes = 36L * (in_c + out_c) * long(sizeof(float));
  const int most = std::max(2 * kLanes, int(kChunkBytes / tile_bytes) / kLanes * kLanes);
  const int chunks = (total + most - 1) / most;
  const int chunk = ((total + chunks - 1) / chunks + kLanes - 1) / kLanes * kLanes;
  // Room for V's packed form too: strips of 16 or 32 tiles, skewed.
  tiles_.resize(size_t(36) * (size_t(in_c) * ((chunk + 31) / 32 * 32) + kPackedSkew));
  products_.resize(size_t(36) * out_c * chunk);
  return chunk;
}

void WinogradConv::convolve(const WinogradFilters& u, float* out, const float* in, int n, int in_c, int out_c, int h,
                            int w, int threads, const ConvEpilogue* epilogue) {
  const int chunk = plan_tiles(n, in_c, out_c, h, w), total = int(table_.size());
  float* m = products_.data();
#pragma omp parallel num_threads(threads)
  for (int t0 = 0; t0 < total; t0 += chunk) {
    const int count = std::min(chunk, total - t0);
    const WinogradTile* tiles = table_.data() + t0;
    // V straight in the product's packed form: the product copies nothing.
    const TileLayout v = packed_layout(tiles_.data(), in_c, count);
#pragma omp for schedule(static)
    for (int c = 0; c < in_c; ++c) transform_input_tiles(v, in, in_c, h, w, tiles, count, c);
#pragma omp for schedule(static)
    for (int xi = 0; xi < 36; ++xi)
      gemm_packed_b(u[size_t(xi)], count, v.base + xi * v.xi_step, m + size_t(xi) * chunk, 36L * chunk, false);
#pragma omp for schedule(static)
    for (int k = 0; k < out_c; ++k) transform_output_tiles(out, out_c, h, w, m, chunk, tiles, count, k, epilogue);
  }
}

void WinogradConv::backward_filter(float* dw, const float* dy, const float* x, const ConvGeometry& g, int threads) {
  const int chunk = plan_tiles(g.n, g.c, g.k, g.h, g.w), total = int(table_.size());
  sums_.resize(size_t(36) * g.c * g.k);
  float* v = tiles_.data();     // x's tiles, [c][xi][j]
  float* e = products_.data();  // dy's tiles, [k][xi][j]
  float* s = sums_.data();      // S_xi^T = sum over tiles of X_xi DY_xi^T, [xi][c][k]
  const int k_groups = (g.k + kLanes - 1) / kLanes;
#pragma omp parallel num_threads(threads)
  {
    for (int t0 = 0; t0 < total; t0 += chunk) {
      const int count = std::min(chunk, total - t0);
      const WinogradTile* tiles = table_.data() + t0;
#pragma omp for schedule(static) nowait
      for (int c = 0; c < g.c; ++c) transform_input_tiles(rows_layout(v, chunk), x, g.c, g.h, g.w, tiles, count, c);
#pragma omp for schedule(static)
      for (int k = 0; k < g.k; ++k) transform_grad_tiles(e, chunk, dy, g.k, g.h, g.w, tiles, count, k);
      // Each S_xi has one owner, which adds the chunks in order: no reduction, and the same sums every run.
#pragma omp for schedule(static)
      for (int xi = 0; xi < 36; ++xi)
        gemm(g.c, g.k, count, {v + size_t(xi) * chunk, 36L * chunk, 1}, {e + size_t(xi) * chunk, 1, 36L * chunk},
             s + size_t(xi) * g.c * g.k, g.k, t0 > 0);
    }
#pragma omp for schedule(static) collapse(2)
    for (int c = 0; c < g.c; ++c)
      for (int kg = 0; kg < k_groups; ++kg) add_filter_grads(dw, s, g.c, g.k, kg * kLanes, c);
  }
}

}  // namespace stfpm
