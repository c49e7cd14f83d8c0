// The CPU backend's matrix product: C = op(A) * op(B), or C += op(A) * op(B), in float, single-threaded (the
// convolution loops call it inside their own parallel regions).
//
// Why our own: OpenBLAS chooses its kernels from the CPU model it recognizes, and on CPUs it does not know (cloud
// VMs reporting a generic "Intel Xeon Processor") it falls back to SSE3 kernels that run at a third of the
// machine's speed. This is a packed, blocked product (the BLIS/Goto structure: B panels of KC x NC, A blocks of
// MC x KC, a register-tiled micro-kernel of MR x NR) with micro-kernels for AVX-512 and AVX2 + FMA, chosen at run
// time from the CPU's flags; without AVX2 + FMA it calls OpenBLAS.
//
// Every element of C is computed the same way by both micro-kernels: a fused multiply-add chain over k in order
// within each KC block, starting from zero, added to C block after block. So the AVX-512 and AVX2 kernels give
// identical results (tested); OpenBLAS's differ in rounding.
#pragma once

#include <vector>

namespace stfpm {

// A matrix in memory: element (i, j) is data[i * row_stride + j * col_stride]. A row-major m x n matrix with
// leading dimension ld is {data, ld, 1}; its transpose is {data, 1, ld}.
struct MatrixView {
  const float* data;
  long row_stride, col_stride;
};

enum class GemmKernel { automatic, avx512, avx2, blas };

// C (m x n, row-major with leading dimension ldc) = a (m x k) * b (k x n), or += with accumulate.
void gemm(int m, int n, int k, MatrixView a, MatrixView b, float* c, long ldc, bool accumulate);

// A left operand packed once and multiplied many times (a convolution's weights, shared by the threads that
// multiply them by their own columns): gemm(packed, ...) skips the packing that gemm(a, ...) does on every call
// and gives the same numbers. pack() keeps its storage, so a reused PackedMatrix allocates only when it grows.
class PackedMatrix {
 public:
  // The packed form: for each block of kDepthBlock columns, the rows in strips of kStripRows, each strip column
  // by column (kStripRows values of one column side by side).
  static constexpr int kStripRows = 6, kDepthBlock = 256;

  void pack(int m, int k, MatrixView a);
  int rows() const { return m_; }
  int depth() const { return k_; }

  // For a producer that writes the packed form itself (a transform computing the values): shape() sizes it for
  // our kernels (not OpenBLAS), then strip(i, p) points to the kStripRows values of rows i .. i + 5 in column p,
  // for i a multiple of kStripRows. Every value must be written, rows past m as zeros.
  void shape(int m, int k);
  float* strip(int i, int p) {
    const int pc = p / kDepthBlock * kDepthBlock, kc = k_ - pc < kDepthBlock ? k_ - pc : kDepthBlock;
    return data_.data() + long(pc) * padded_rows_ + long(i) * kc + long(p - pc) * kStripRows;
  }

 private:
  friend void gemm(const PackedMatrix& a, int n, MatrixView b, float* c, long ldc, bool accumulate);
  friend void gemm_packed_b(const PackedMatrix& a, int n, const float* b, float* c, long ldc, bool accumulate);
  int m_ = 0, k_ = 0;
  long padded_rows_ = 0;  // m rounded up to kStripRows
  GemmKernel kernel_ = GemmKernel::automatic;  // blas: data_ is the plain row-major matrix
  std::vector<float> data_;
};

// C (a.rows() x n) = a * b (a.depth() x n), or += with accumulate.
void gemm(const PackedMatrix& a, int n, MatrixView b, float* c, long ldc, bool accumulate);

// The same with b written in the sgemm's packed form by its producer (a Winograd transform), which saves the copy
// the product would make: strips of packed_b_width(n) columns, the strip of columns [j, j + width) at
// b + (j / width) * a.depth() * width, holding for each row p its `width` values side by side (any finite values
// past column n: those columns of C are not written). Our kernels only (std::logic_error for OpenBLAS, or for an
// `a` packed for another kernel); the same numbers as gemm(a, n, view of b, ...).
int packed_b_width(int n);
void gemm_packed_b(const PackedMatrix& a, int n, const float* b, float* c, long ldc, bool accumulate);

// The kernel gemm uses: the best the CPU has unless set (tests compare them; asking for one the CPU lacks
// throws std::runtime_error). "avx512", "avx2" or "blas".
GemmKernel gemm_kernel();
void set_gemm_kernel(GemmKernel kernel);
const char* gemm_kernel_name(GemmKernel kernel);
bool gemm_kernel_supported(GemmKernel kernel);

}  // namespace stfpm
