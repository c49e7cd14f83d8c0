// CPU backend: convolution as im2col + sgemm (cpu/gemm.h: ours, or OpenBLAS's on CPUs without AVX2).
//
// For one image, lowering x (C, H, W) to columns (C*R*S, OH*OW) turns the convolution into matrix products:
//   forward          y (K, P)      = w (K, CRS) * col (CRS, P)              P = OH*OW
//   backward data    dcol (CRS, P) = w^T * dy (K, P), then col2im adds dcol back onto dx
//   backward filter  dw (K, CRS)  += dy (K, P) * col^T
//
// One level of parallelism at a time, with sgemm single-threaded inside it (ours always is; OpenBLAS runs on one
// thread within an OpenMP region): a batch of at least as many images as threads runs one image per thread; a smaller batch (one
// image from a camera) runs its images one after another, each split across all threads: the forward pass by
// output rows (each thread lowers and multiplies its rows' columns), the backward passes by input channels (each
// thread owns the dcol rows and dx planes, or the col rows and dw columns, of its channels). Without the split a
// single image ran im2col on one thread and sgemm on OpenBLAS's threads, which spin between calls.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "cpu/cpu_backend.h"
#include "cpu/gemm.h"
#include "cpu/vector_clones.h"

namespace stfpm {
namespace {

bool is_pointwise(const ConvGeometry& g) { return g.r == 1 && g.s == 1 && g.stride == 1 && g.pad == 0; }

// The output columns j in [first, last) whose input column j*stride - pad + offset lies inside [0, size).
void valid_range(int out_size, int size, int stride, int pad, int offset, int* first, int* last) {
  int lo = pad - offset;  // need j*stride >= lo
  *first = lo <= 0 ? 0 : (lo + stride - 1) / stride;
  int hi = size - 1 + pad - offset;  // need j*stride <= hi
  *last = hi < 0 ? 0 : std::min(out_size, hi / stride + 1);
  if (*last < *first) *last = *first;
}

// The part [first, last) of `total` that worker t of `workers` takes.
void share(int total, int t, int workers, int* first, int* last) {
  *first = int(long(total) * t / workers);
  *last = int(long(total) * (t + 1) / workers);
}

// The rows of col (C*R*S, OH*OW) for channels [c0, c1) and output rows [i0, i1) <- x (C, H, W): a
// ((c1 - c0)*R*S, (i1 - i0)*OW) matrix, zero where the window hangs over the padding.
STFPM_VECTOR_CLONES void im2col(float* col, const float* x, const ConvGeometry& g, int c0, int c1, int i0, int i1) {
  const int ow = g.out_w(), rows = i1 - i0;
  for (int c = c0; c < c1; ++c) {
    const float* plane = x + size_t(c) * g.h * g.w;
    for (int r = 0; r < g.r; ++r) {
      for (int s = 0; s < g.s; ++s) {
        float* row = col + ((size_t(c - c0) * g.r + r) * g.s + s) * rows * ow;
        int j0, j1;
        valid_range(ow, g.w, g.stride, g.pad, s, &j0, &j1);
        for (int i = i0; i < i1; ++i) {
          float* out = row + size_t(i - i0) * ow;
          const int ih = i * g.stride - g.pad + r;
          if (ih < 0 || ih >= g.h) {
            std::fill(out, out + ow, 0.0f);
            continue;
          }
          const float* in = plane + size_t(ih) * g.w - g.pad + s;  // in[j*stride] is column j's input
          std::fill(out, out + j0, 0.0f);
          if (g.stride == 1) {
            std::memcpy(out + j0, in + j0, sizeof(float) * size_t(j1 - j0));
          } else if (g.stride == 2) {  // a constant stride: the compiler vectorizes it
            for (int j = j0; j < j1; ++j) out[j] = in[2 * j];
          } else {
            for (int j = j0; j < j1; ++j) out[j] = in[j * g.stride];
          }
          std::fill(out + j1, out + ow, 0.0f);
        }
      }
    }
  }
}

// dx (C, H, W) += the columns of dcol scattered back to where im2col read them, for channels [c0, c1): dcol holds
// their rows, ((c1 - c0)*R*S, OH*OW).
STFPM_VECTOR_CLONES void col2im_add(float* dx, const float* col, const ConvGeometry& g, int c0, int c1) {
  const int oh = g.out_h(), ow = g.out_w();
  for (int c = c0; c < c1; ++c) {
    float* plane = dx + size_t(c) * g.h * g.w;
    for (int r = 0; r < g.r; ++r) {
      for (int s = 0; s < g.s; ++s) {
        const float* row = col + ((size_t(c - c0) * g.r + r) * g.s + s) * oh * ow;
        int j0, j1;
        valid_range(ow, g.w, g.stride, g.pad, s, &j0, &j1);
        for (int i = 0; i < oh; ++i) {
          const int ih = i * g.stride - g.pad + r;
          if (ih < 0 || ih >= g.h) continue;
          const float* in = row + size_t(i) * ow;
          float* out = plane + size_t(ih) * g.w - g.pad + s;
          if (g.stride == 2) {
            for (int j = j0; j < j1; ++j) out[2 * j] += in[j];
          } else {
            for (int j = j0; j < j1; ++j) out[j * g.stride] += in[j];
          }
        }
      }
    }
  }
}

// The forward product's lowered columns are built and multiplied a block of output rows at a time, a block
// being at most this many bytes (L2-sized: the stem's whole lowering is 9.6 MB at 256x256).
constexpr size_t kColumnBlockBytes = 512 * 1024;

// y's rows [i0, i1) through the epilogue, channel by channel (just written, still in cache).
void apply_epilogue(float* y, const ConvGeometry& g, int i0, int i1, const ConvEpilogue* epilogue) {
  if (!epilogue) return;
  const int ow = g.out_w(), P = g.out_h() * ow;
  for (int k = 0; k < g.k; ++k) epilogue->apply(k, y + size_t(k) * P + size_t(i0) * ow, size_t(i1 - i0) * ow);
}

// Output rows [i0, i1) of one image's forward product y (K, OH*OW) = w * col, with w packed once for the call.
void forward_rows(float* y, const float* x, const PackedMatrix& w, const ConvGeometry& g, int i0, int i1,
                  float* columns, const ConvEpilogue* epilogue) {
  if (i1 <= i0) return;
  const int ow = g.out_w(), P = g.out_h() * ow;
  if (is_pointwise(g)) {  // x's own columns, P apart
    gemm(w, (i1 - i0) * ow, {x + size_t(i0) * ow, P, 1}, y + size_t(i0) * ow, P, false);
    apply_epilogue(y, g, i0, i1, epilogue);
    return;
  }
  const size_t row_bytes = sizeof(float) * size_t(g.c) * g.r * g.s * ow;
  const int block = int(std::max<size_t>(1, kColumnBlockBytes / row_bytes));
  for (int b0 = i0; b0 < i1; b0 += block) {
    const int b1 = std::min(i1, b0 + block), cols = (b1 - b0) * ow;
    im2col(columns, x, g, 0, g.c, b0, b1);
    gemm(w, cols, {columns, cols, 1}, y + size_t(b0) * ow, P, false);
    apply_epilogue(y, g, b0, b1, epilogue);
  }
}

// One image's filter gradient for input channels [c0, c1), added to acc = dw^T's rows for them ((c1 - c0)*R*S
// x K): acc += col * dy^T. Transposed, the large lowered matrix is the operand the sgemm packs row by row and dy
// the one it packs across rows. The columns are lowered a block of output rows at a time (at least 256 columns,
// the sgemm's depth block, so the accumulator is not rewritten for a short product).
void filter_grad_rows(float* acc, const float* dy, const float* x, const ConvGeometry& g, int c0, int c1,
                      float* columns) {
  if (c1 <= c0) return;
  const int ow = g.out_w(), oh = g.out_h(), P = oh * ow, rows = (c1 - c0) * g.r * g.s;
  if (is_pointwise(g)) {  // x's own rows (P = H*W)
    gemm(rows, g.k, P, {x + size_t(c0) * P, P, 1}, {dy, 1, P}, acc, g.k, true);
    return;
  }
  const size_t row_bytes = sizeof(float) * size_t(rows) * ow;
  const int block = int(std::max<size_t>({1, kColumnBlockBytes / row_bytes, (PackedMatrix::kDepthBlock + ow - 1) / size_t(ow)}));
  for (int b0 = 0; b0 < oh; b0 += block) {
    const int b1 = std::min(oh, b0 + block), cols = (b1 - b0) * ow;
    im2col(columns, x, g, c0, c1, b0, b1);
    gemm(rows, g.k, cols, {columns, cols, 1}, {dy + size_t(b0) * ow, 1, P}, acc, g.k, true);
  }
}

// dw (K rows, ld apart) += acc^T for dw's rows [k0, k1), acc being (rows x K).
void add_transposed(float* dw, int ld, const float* acc, int rows, int k, int k0, int k1) {
  for (int j = k0; j < k1; ++j)
    for (int q = 0; q < rows; ++q) dw[size_t(j) * ld + q] += acc[size_t(q) * k + j];
}

}  // namespace

CpuBackend::ConvScratch& CpuBackend::scratch(int thread, const ConvGeometry& g) {
  ConvScratch& sc = scratch_.at(size_t(thread));
  const size_t columns = is_pointwise(g) ? 0 : size_t(g.c) * g.r * g.s * g.out_h() * g.out_w();
  // prepare_conv() sizes these before the first step; growing here only serves direct callers (tests).
  if (sc.columns.size() < columns) sc.columns.resize(columns);
  if (sc.filter_grad.size() < g.weight_count()) sc.filter_grad.resize(g.weight_count());
  return sc;
}

void CpuBackend::prepare_conv(const ConvGeometry& g) {
  for (int t = 0; t < threads_; ++t) scratch(t, g);
  for (const std::unique_ptr<CpuBackend>& half : halves_)  // they run the forward passes side by side
    if (half) half->prepare_conv(g);
}

void CpuBackend::conv_forward(float* y, const float* x, const float* w, const ConvGeometry& g) {
  const TeamSize team(threads_);
  forward(y, x, w, g, nullptr);
}

void CpuBackend::conv_bn_forward_eval(float* y, const float* x, const float* w, const ConvGeometry& g,
                                      const BatchNormEval& bn, bool relu) {
  const TeamSize team(threads_);
  bn_scale_.resize(size_t(g.k));
  bn_shift_.resize(size_t(g.k));
  for (int k = 0; k < g.k; ++k) {  // as batchnorm_forward_eval computes them
    bn_scale_[size_t(k)] = float(bn.gamma[k] / std::sqrt(double(bn.running_var[k]) + bn.eps));
    bn_shift_[size_t(k)] = bn.beta[k] - bn.running_mean[k] * bn_scale_[size_t(k)];
  }
  const ConvEpilogue epilogue{bn_scale_.data(), bn_shift_.data(), relu};
  forward(y, x, w, g, &epilogue);
}

void CpuBackend::forward(float* y, const float* x, const float* w, const ConvGeometry& g,
                         const ConvEpilogue* epilogue) {
  if (use_winograd(g)) return winograd_.forward(y, x, w, g, threads_, epilogue);
  forward_weights_.pack(g.k, g.c * g.r * g.s, {w, g.c * g.r * g.s, 1});  // once, for every thread's products
  const size_t x_image = size_t(g.c) * g.h * g.w, y_image = size_t(g.k) * g.out_h() * g.out_w();
  if (g.n < threads_) {  // each image split by output rows
    for (int n = 0; n < g.n; ++n) {
#pragma omp parallel num_threads(threads_)
      {
        int i0, i1;
        share(g.out_h(), omp_get_thread_num(), omp_get_num_threads(), &i0, &i1);
        forward_rows(y + n * y_image, x + n * x_image, forward_weights_, g, i0, i1,
                     scratch(omp_get_thread_num(), g).columns.data(), epilogue);
      }
    }
    return;
  }
#pragma omp parallel for schedule(static)
  for (int n = 0; n < g.n; ++n)
    forward_rows(y + n * y_image, x + n * x_image, forward_weights_, g, 0, g.out_h(),
                 scratch(omp_get_thread_num(), g).columns.data(), epilogue);
}

void CpuBackend::conv_backward_data(float* dx, const float* dy, const float* w, const ConvGeometry& g) {
  const TeamSize team(threads_);
  if (use_winograd(g)) return winograd_.backward_data(dx, dy, w, g, threads_);
  const int P = g.out_h() * g.out_w(), CRS = g.c * g.r * g.s, RS = g.r * g.s;
  const size_t x_image = size_t(g.c) * g.h * g.w, y_image = size_t(g.k) * P, plane = size_t(g.h) * g.w;
  if (g.n < threads_) {  // each image split by input channels: a thread's dcol rows and dx planes are its own
    for (int n = 0; n < g.n; ++n) {
#pragma omp parallel num_threads(threads_)
      {
        int c0, c1;
        share(g.c, omp_get_thread_num(), omp_get_num_threads(), &c0, &c1);
        if (c1 > c0) {
          float* dxn = dx + n * x_image;
          float* dcol = is_pointwise(g) ? dxn + c0 * plane : scratch(omp_get_thread_num(), g).columns.data();
          gemm((c1 - c0) * RS, P, g.k, {w + c0 * RS, 1, CRS}, {dy + n * y_image, P, 1}, dcol, P, false);
          if (!is_pointwise(g)) {
            std::fill(dxn + c0 * plane, dxn + c1 * plane, 0.0f);
            col2im_add(dxn, dcol, g, c0, c1);
          }
        }
      }
    }
    return;
  }
#pragma omp parallel for schedule(static)
  for (int n = 0; n < g.n; ++n) {
    if (is_pointwise(g)) {
      gemm(CRS, P, g.k, {w, 1, CRS}, {dy + n * y_image, P, 1}, dx + n * x_image, P, false);
      continue;
    }
    float* dcol = scratch(omp_get_thread_num(), g).columns.data();
    gemm(CRS, P, g.k, {w, 1, CRS}, {dy + n * y_image, P, 1}, dcol, P, false);
    std::fill(dx + n * x_image, dx + (n + 1) * x_image, 0.0f);
    col2im_add(dx + n * x_image, dcol, g, 0, g.c);
  }
}

void CpuBackend::conv_backward_filter(float* dw, const float* dy, const float* x, const ConvGeometry& g) {
  const TeamSize team(threads_);
  if (use_winograd(g)) return winograd_.backward_filter(dw, dy, x, g, threads_);
  const int P = g.out_h() * g.out_w(), CRS = g.c * g.r * g.s, RS = g.r * g.s;
  const size_t x_image = size_t(g.c) * g.h * g.w, y_image = size_t(g.k) * P;
  // A batch smaller than the thread count splits the input channels (a thread's rows of dw^T are its own), a
  // larger one the images (each thread sums its images into a private dw^T; the sums are then added to dw in
  // thread order, so the result does not depend on timing).
  const bool split_channels = g.n < threads_;
  const int workers = split_channels ? threads_ : std::min(threads_, g.n);
#pragma omp parallel num_threads(workers)
  {
    const int t = omp_get_thread_num();
    int c0 = 0, c1 = g.c;
    if (split_channels) share(g.c, t, omp_get_num_threads(), &c0, &c1);
    ConvScratch& sc = scratch(t, g);
    float* acc = sc.filter_grad.data();  // ((c1 - c0) * RS) x K
    std::fill(acc, acc + size_t(c1 - c0) * RS * g.k, 0.0f);
    if (split_channels) {
      for (int n = 0; n < g.n; ++n)
        filter_grad_rows(acc, dy + n * y_image, x + n * x_image, g, c0, c1, sc.columns.data());
    } else {
#pragma omp for schedule(static)
      for (int n = 0; n < g.n; ++n)
        filter_grad_rows(acc, dy + n * y_image, x + n * x_image, g, 0, g.c, sc.columns.data());
    }
    if (split_channels) add_transposed(dw + c0 * RS, CRS, acc, (c1 - c0) * RS, g.k, 0, g.k);
  }
  if (split_channels) return;
  for (int t = 0; t < workers; ++t) {
    const float* acc = scratch_[size_t(t)].filter_grad.data();
#pragma omp parallel num_threads(threads_)
    {
      int k0, k1;
      share(g.k, omp_get_thread_num(), omp_get_num_threads(), &k0, &k1);
      add_transposed(dw, CRS, acc, CRS, g.k, k0, k1);
    }
  }
}

}  // namespace stfpm
