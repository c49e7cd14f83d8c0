#include "cpu/gemm.h"

#include <cblas.h>
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

namespace stfpm {
namespace {

// Blocking: an A block (MC x KC) stays in L2 while the micro-kernel streams a B strip (KC x NR, 32 KiB for
// AVX-512) from L1; the B panel (KC x NC) is packed once per KC step. MC is a multiple of MR, NC of both NRs.
constexpr int kMR = PackedMatrix::kStripRows;
constexpr int kKC = PackedMatrix::kDepthBlock, kMC = 120, kNC = 2048;

// The (mc x kc) block of `a` at (i0, p0), as strips of kMR rows: strip s holds, for each p, its kMR values of
// column p (zero past the block's last row).
void pack_a(float* out, MatrixView a, int i0, int mc, int p0, int kc) {
  for (int s = 0; s < mc; s += kMR) {
    const int rows = std::min(kMR, mc - s);
    for (int p = 0; p < kc; ++p) {
      const float* col = a.data + long(p0 + p) * a.col_stride + long(i0 + s) * a.row_stride;
      int r = 0;
      for (; r < rows; ++r) out[r] = col[long(r) * a.row_stride];
      for (; r < kMR; ++r) out[r] = 0.0f;
      out += kMR;
    }
  }
}

// The (kc x nc) panel of `b` at (p0, j0), as strips of NR columns: strip t holds, for each p, its NR values of
// row p (zero past the panel's last column).
template <int NR>
void pack_b(float* out, MatrixView b, int p0, int kc, int j0, int nc) {
  for (int t = 0; t < nc; t += NR) {
    const int cols = std::min(NR, nc - t);
    for (int p = 0; p < kc; ++p) {
      const float* row = b.data + long(p0 + p) * b.row_stride + long(j0 + t) * b.col_stride;
      if (b.col_stride == 1 && cols == NR) {
        for (int q = 0; q < NR; ++q) out[q] = row[q];  // one vector (std::copy_n would call memmove)
      } else {
        int q = 0;
        for (; q < cols; ++q) out[q] = row[long(q) * b.col_stride];
        for (; q < NR; ++q) out[q] = 0.0f;
      }
      out += NR;
    }
  }
}

// Writes an accumulator tile into C: the (mr x nr) corner of it, stored or added.
template <int NR>
void write_tile(const float (&tile)[kMR][NR], float* c, long ldc, bool add, int mr, int nr) {
  for (int r = 0; r < mr; ++r) {
    float* row = c + long(r) * ldc;
    for (int q = 0; q < nr; ++q) row[q] = add ? row[q] + tile[r][q] : tile[r][q];
  }
}

// C (mr x nr of a kMR x 32 tile) = or += the product of a packed A strip (kc x kMR) and B strip (kc x 32).
__attribute__((target("avx512f"))) void kernel_avx512(int kc, const float* a, long /*a_next*/, const float* b,
                                                      float* c, long ldc, bool add, int mr, int nr) {
  __m512 acc[kMR][2];
#pragma GCC unroll 6
  for (int r = 0; r < kMR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_loadu_ps(b + p * 32), b1 = _mm512_loadu_ps(b + p * 32 + 16);
#pragma GCC unroll 6
    for (int r = 0; r < kMR; ++r) {
      const __m512 ar = _mm512_set1_ps(a[p * kMR + r]);
      acc[r][0] = _mm512_fmadd_ps(ar, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(ar, b1, acc[r][1]);
    }
  }
  if (mr == kMR && nr == 32) {
#pragma GCC unroll 6
    for (int r = 0; r < kMR; ++r) {
      float* row = c + long(r) * ldc;
      __m512 v0 = acc[r][0], v1 = acc[r][1];
      if (add) {
        v0 = _mm512_add_ps(_mm512_loadu_ps(row), v0);
        v1 = _mm512_add_ps(_mm512_loadu_ps(row + 16), v1);
      }
      _mm512_storeu_ps(row, v0);
      _mm512_storeu_ps(row + 16, v1);
    }
    return;
  }
  alignas(64) float tile[kMR][32];
  for (int r = 0; r < kMR; ++r) {
    _mm512_store_ps(tile[r], acc[r][0]);
    _mm512_store_ps(tile[r] + 16, acc[r][1]);
  }
  write_tile<32>(tile, c, ldc, add, mr, nr);
}

// C (mr x nr of a 2 kMR x 16 tile) = or += the product of two consecutive packed A strips (`a` and `a + a_next`;
// the second only when mr > kMR) and a B strip (kc x 16): AVX-512 for products at most 16 columns wide, where the
// kMR x 32 tile above would compute half zeros. Two strips give it 12 independent accumulators, enough to keep
// both FMA units busy; each element's chain is the same as in the other kernels.
template <int Strips>
__attribute__((target("avx512f"))) void kernel_avx512_narrow_strips(int kc, const float* a, long a_next,
                                                                    const float* b, float* c, long ldc, bool add,
                                                                    int mr, int nr) {
  constexpr int kRows = Strips * kMR;
  __m512 acc[kRows];
#pragma GCC unroll 12
  for (int r = 0; r < kRows; ++r) acc[r] = _mm512_setzero_ps();
  for (int p = 0; p < kc; ++p) {
    const __m512 bp = _mm512_loadu_ps(b + p * 16);
#pragma GCC unroll 12
    for (int r = 0; r < kRows; ++r) {
      const float* strip = a + (r < kMR ? 0 : a_next);
      acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(strip[p * kMR + r % kMR]), bp, acc[r]);
    }
  }
  if (mr == kRows && nr == 16) {
#pragma GCC unroll 12
    for (int r = 0; r < kRows; ++r) {
      float* row = c + long(r) * ldc;
      const __m512 v = add ? _mm512_add_ps(_mm512_loadu_ps(row), acc[r]) : acc[r];
      _mm512_storeu_ps(row, v);
    }
    return;
  }
  const __mmask16 cols = __mmask16((1u << nr) - 1u);
  for (int r = 0; r < mr; ++r) {
    float* row = c + long(r) * ldc;
    const __m512 v = add ? _mm512_add_ps(_mm512_maskz_loadu_ps(cols, row), acc[r]) : acc[r];
    _mm512_mask_storeu_ps(row, cols, v);
  }
}

__attribute__((target("avx512f"))) void kernel_avx512_narrow(int kc, const float* a, long a_next, const float* b,
                                                             float* c, long ldc, bool add, int mr, int nr) {
  if (mr > kMR) return kernel_avx512_narrow_strips<2>(kc, a, a_next, b, c, ldc, add, mr, nr);
  kernel_avx512_narrow_strips<1>(kc, a, a_next, b, c, ldc, add, mr, nr);
}

// The same for AVX2 + FMA with a kMR x 16 tile.
__attribute__((target("avx2,fma"))) void kernel_avx2(int kc, const float* a, long /*a_next*/, const float* b,
                                                     float* c, long ldc, bool add, int mr, int nr) {
  __m256 acc[kMR][2];
#pragma GCC unroll 6
  for (int r = 0; r < kMR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (int p = 0; p < kc; ++p) {
    const __m256 b0 = _mm256_loadu_ps(b + p * 16), b1 = _mm256_loadu_ps(b + p * 16 + 8);
#pragma GCC unroll 6
    for (int r = 0; r < kMR; ++r) {
      const __m256 ar = _mm256_broadcast_ss(a + p * kMR + r);
      acc[r][0] = _mm256_fmadd_ps(ar, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(ar, b1, acc[r][1]);
    }
  }
  if (mr == kMR && nr == 16) {
#pragma GCC unroll 6
    for (int r = 0; r < kMR; ++r) {
      float* row = c + long(r) * ldc;
      __m256 v0 = acc[r][0], v1 = acc[r][1];
      if (add) {
        v0 = _mm256_add_ps(_mm256_loadu_ps(row), v0);
        v1 = _mm256_add_ps(_mm256_loadu_ps(row + 8), v1);
      }
      _mm256_storeu_ps(row, v0);
      _mm256_storeu_ps(row + 8, v1);
    }
    return;
  }
  alignas(32) float tile[kMR][16];
  for (int r = 0; r < kMR; ++r) {
    _mm256_store_ps(tile[r], acc[r][0]);
    _mm256_store_ps(tile[r] + 8, acc[r][1]);
  }
  write_tile<16>(tile, c, ldc, add, mr, nr);
}

// (kc, A strip, floats from it to the next strip, B strip, C, ldc, add, rows, columns)
using MicroKernel = void (*)(int, const float*, long, const float*, float*, long, bool, int, int);

// Where the micro-kernel's A strips come from: `a` packed block by block on the fly, or a whole matrix packed
// beforehand (PackedMatrix), where block (pc, ic) starts at pc * padded_rows + ic * kc.
struct ASource {
  MatrixView a;
  const float* prepacked;
  long padded_rows;
};

long padded(int m) { return (long(m) + kMR - 1) / kMR * kMR; }

// Where the micro-kernel's B strips come from: `b` packed panel by panel on the fly, or a whole matrix that its
// producer wrote in strips of NR columns over the full depth (gemm_packed_b), where the strip of columns
// [j, j + NR) starts at (j / NR) * k * NR and its rows [pc, pc + kc) at pc * NR within it.
struct BSource {
  MatrixView b;
  const float* prepacked;
};

// NR: the kernel's tile width; MR: its rows per call (kMR, or 2 kMR for a kernel reading two strips).
template <int NR, int MR = kMR>
void gemm_blocked(MicroKernel kernel, int m, int n, int k, ASource a, BSource b, float* c, long ldc,
                  bool accumulate) {
  static_assert(kMC % MR == 0, "an A block holds whole calls");
  // Per thread: the convolution loops call gemm from several threads at once.
  thread_local std::vector<float> a_pack, b_pack;
  if (!a.prepacked) a_pack.resize(size_t(kMC) * kKC);
  if (!b.prepacked) b_pack.resize(size_t(kKC) * kNC);
  for (int jc = 0; jc < n; jc += kNC) {
    const int nc = std::min(kNC, n - jc);
    for (int pc = 0; pc < k; pc += kKC) {
      const int kc = std::min(kKC, k - pc);
      const bool add = accumulate || pc > 0;  // later KC blocks add to what the first one stored
      // Strip jr of this panel: at b_strips + jr * b_step.
      const float* b_strips = b_pack.data();
      long b_step = kc;
      if (b.prepacked) {
        b_strips = b.prepacked + long(jc) * k + long(pc) * NR;
        b_step = k;
      } else {
        pack_b<NR>(b_pack.data(), b.b, pc, kc, jc, nc);
      }
      for (int ic = 0; ic < m; ic += kMC) {
        const int mc = std::min(kMC, m - ic);
        const float* block = a_pack.data();
        if (a.prepacked) {
          block = a.prepacked + long(pc) * a.padded_rows + long(ic) * kc;
        } else {
          pack_a(a_pack.data(), a.a, ic, mc, pc, kc);
        }
        for (int jr = 0; jr < nc; jr += NR)
          for (int ir = 0; ir < mc; ir += MR)
            kernel(kc, block + long(ir) * kc, long(kMR) * kc, b_strips + long(jr) * b_step,
                   c + long(ic + ir) * ldc + jc + jr, ldc, add, std::min(MR, mc - ir), std::min(NR, nc - jr));
      }
    }
  }
}

// Our kernels: with AVX-512, the 32-column tile, or the 16-column one for products at most 16 columns wide (a
// Winograd convolution of one small image); all give the same numbers (the same chain per element).
void gemm_ours(GemmKernel kernel, int m, int n, int k, ASource a, BSource b, float* c, long ldc, bool accumulate) {
  if (kernel == GemmKernel::avx512 && n > 16)
    return gemm_blocked<32>(kernel_avx512, m, n, k, a, b, c, ldc, accumulate);
  if (kernel == GemmKernel::avx512)
    return gemm_blocked<16, 2 * kMR>(kernel_avx512_narrow, m, n, k, a, b, c, ldc, accumulate);
  gemm_blocked<16>(kernel_avx2, m, n, k, a, b, c, ldc, accumulate);
}

// The NR gemm_ours chooses above.
int strip_width(GemmKernel kernel, int n) { return kernel == GemmKernel::avx512 && n > 16 ? 32 : 16; }

// OpenBLAS for CPUs without AVX2 + FMA: the views are row-major matrices or their transposes.
void gemm_blas(int m, int n, int k, MatrixView a, MatrixView b, float* c, long ldc, bool accumulate) {
  const bool ta = a.col_stride != 1, tb = b.col_stride != 1;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a.data,
              int(ta ? a.col_stride : a.row_stride), b.data, int(tb ? b.col_stride : b.row_stride),
              accumulate ? 1.0f : 0.0f, c, int(ldc));
}

GemmKernel best_kernel() {
  if (gemm_kernel_supported(GemmKernel::avx512)) return GemmKernel::avx512;
  if (gemm_kernel_supported(GemmKernel::avx2)) return GemmKernel::avx2;
  return GemmKernel::blas;
}

std::atomic<GemmKernel> chosen{GemmKernel::automatic};

}  // namespace

bool gemm_kernel_supported(GemmKernel kernel) {
  switch (kernel) {
    case GemmKernel::avx512: return __builtin_cpu_supports("avx512f");
    case GemmKernel::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    default: return true;
  }
}

const char* gemm_kernel_name(GemmKernel kernel) {
  switch (kernel) {
    case GemmKernel::avx512: return "avx512";
    case GemmKernel::avx2: return "avx2";
    case GemmKernel::blas: return "blas";
    default: return "automatic";
  }
}

GemmKernel gemm_kernel() {
  GemmKernel k = chosen.load();
  if (k == GemmKernel::automatic) {
    k = best_kernel();
    chosen.store(k);
  }
  return k;
}

void set_gemm_kernel(GemmKernel kernel) {
  if (!gemm_kernel_supported(kernel))
    throw std::runtime_error(std::string("this CPU has no ") + gemm_kernel_name(kernel) + " instructions");
  chosen.store(kernel == GemmKernel::automatic ? best_kernel() : kernel);
}

void gemm(int m, int n, int k, MatrixView a, MatrixView b, float* c, long ldc, bool accumulate) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {  // an empty sum
    if (!accumulate)
      for (int i = 0; i < m; ++i) std::fill(c + long(i) * ldc, c + long(i) * ldc + n, 0.0f);
    return;
  }
  const GemmKernel kernel = gemm_kernel();
  if (kernel == GemmKernel::blas) return gemm_blas(m, n, k, a, b, c, ldc, accumulate);
  gemm_ours(kernel, m, n, k, {a, nullptr, 0}, {b, nullptr}, c, ldc, accumulate);
}

void PackedMatrix::shape(int m, int k) {
  m_ = m;
  k_ = k;
  kernel_ = gemm_kernel();
  if (kernel_ == GemmKernel::blas) throw std::logic_error("PackedMatrix::shape: OpenBLAS packs for itself");
  padded_rows_ = padded(m);
  data_.resize(size_t(padded_rows_) * size_t(k));
}

void PackedMatrix::pack(int m, int k, MatrixView a) {
  if (gemm_kernel() == GemmKernel::blas) {  // OpenBLAS packs for itself: keep a plain copy
    m_ = m;
    k_ = k;
    kernel_ = GemmKernel::blas;
    data_.resize(size_t(m) * size_t(k));
    for (int i = 0; i < m; ++i)
      for (int p = 0; p < k; ++p) data_[size_t(i) * k + p] = a.data[long(i) * a.row_stride + long(p) * a.col_stride];
    return;
  }
  shape(m, k);
  for (int pc = 0; pc < k; pc += kKC) {
    const int kc = std::min(kKC, k - pc);
    for (int ic = 0; ic < m; ic += kMC)
      pack_a(data_.data() + pc * padded_rows_ + long(ic) * kc, a, ic, std::min(kMC, m - ic), pc, kc);
  }
}

void gemm(const PackedMatrix& a, int n, MatrixView b, float* c, long ldc, bool accumulate) {
  const int m = a.m_, k = a.k_;
  if (m <= 0 || n <= 0) return;
  if (k <= 0) return gemm(m, n, k, {nullptr, 0, 0}, b, c, ldc, accumulate);
  if (a.kernel_ == GemmKernel::blas) return gemm_blas(m, n, k, {a.data_.data(), k, 1}, b, c, ldc, accumulate);
  gemm_ours(a.kernel_, m, n, k, {{nullptr, 0, 0}, a.data_.data(), a.padded_rows_}, {b, nullptr}, c, ldc,
            accumulate);
}

int packed_b_width(int n) {
  const GemmKernel kernel = gemm_kernel();
  if (kernel == GemmKernel::blas) throw std::logic_error("packed_b_width: OpenBLAS packs for itself");
  return strip_width(kernel, n);
}

void gemm_packed_b(const PackedMatrix& a, int n, const float* b, float* c, long ldc, bool accumulate) {
  const int m = a.m_, k = a.k_;
  if (m <= 0 || n <= 0) return;
  if (a.kernel_ == GemmKernel::blas || a.kernel_ != gemm_kernel())
    throw std::logic_error("gemm_packed_b: the operands were packed for another kernel");
  if (k <= 0) return gemm(m, n, k, {nullptr, 0, 0}, {nullptr, 0, 0}, c, ldc, accumulate);
  gemm_ours(a.kernel_, m, n, k, {{nullptr, 0, 0}, a.data_.data(), a.padded_rows_}, {{nullptr, 0, 0}, b}, c, ldc,
            accumulate);
}

}  // namespace stfpm
