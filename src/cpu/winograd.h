// The CPU backend's 3x3 stride-1 convolutions (most of ResNet-18's FLOPs) by Winograd's minimal filtering,
// F(4x4, 3x3) (Lavin & Gray, 2016): each 4x4 block of outputs is computed from a 6x6 input tile as
//   Y = A^T [ (G g G^T) (.) (B^T d B) ] A
// so a tile costs 36 multiplications per (input, output) channel pair instead of 144. Over a batch the
// element-wise products become 36 independent matrix products, one per tile position xi:
//   M_xi (K x T) = U_xi (K x C) * V_xi (C x T)      U = G g G^T of every filter, V = B^T d B of every tile
// run by our sgemm with U packed once per call and shared by the threads.
//
// The transforms add and scale in float, so results differ from the direct sum by rounding (about 1e-6 of the
// output's magnitude with ResNet's channel counts; the op tests measure it). The backward data pass is the same
// convolution of dy with each filter rotated by 180 degrees and the channel roles swapped, so it runs here too.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "core/backend.h"
#include "cpu/conv_epilogue.h"
#include "cpu/gemm.h"

namespace stfpm {

// Whether the Winograd path can serve this convolution: 3x3, stride 1, pad 1, channels enough for the transforms
// to pay for themselves, and our sgemm (U is written in its packed form).
bool winograd_applies(const ConvGeometry& g);

// Which algorithm CpuBackend's 3x3 stride-1 convolutions use: Winograd wherever it applies (automatic), or
// im2col + sgemm (tests and benchmarks compare them). A process-wide setting, like the sgemm kernel; the
// environment's STFPM_CPU_CONV=direct|automatic sets where it starts. The choice never depends on the batch
// size, so an image scores the same alone or in a batch (thresholds fitted by `test` apply exactly to
// `predict` one image at a time).
enum class ConvAlgorithm { automatic, direct };
ConvAlgorithm conv_algorithm();
void set_conv_algorithm(ConvAlgorithm algorithm);
// Whether CpuBackend runs this convolution by Winograd, under the current setting.
bool use_winograd(const ConvGeometry& g);

// A tile: the image and the top-left output of its 4x4 block (its 6x6 input tile starts one row and column
// before, in the padding at the edges).
struct WinogradTile {
  int n, row, col;
};

// The 36 matrices U_xi of a convolution's transformed filters, each in the sgemm's packed form.
using WinogradFilters = std::array<PackedMatrix, 36>;

// Transformed filters kept between calls while their weights stay the same: the teacher's always, the student's
// outside training. At a batch of one, transforming a layer3 convolution's 256 x 256 filters (9.4 MB of U) costs
// more than its products. Sameness is checked by content, on every call, against a copy of the weights (a memcmp of
// at most 2.4 MB), never assumed from a pointer, so weights written in place by anyone are always seen. U is stored
// on the second call in a row (of the same direction) that finds the weights unchanged, so weights rewritten every
// step, the student's in training, are never stored; and within kBudgetBytes.
class WinogradFilterCache {
 public:
  static constexpr size_t kBudgetBytes = size_t(256) << 20;

  // Where the call's U comes from: `filters` (nullptr: the caller's scratch), to be transformed first or not.
  struct Slot {
    WinogradFilters* filters;
    bool transform;
  };
  // For the filters `w` (out_c x in_c x 3 x 3) in one direction; `bytes` is what storing their U takes. A stored
  // U serves only the same shape and sgemm kernel (its packed form is the kernel's).
  Slot slot(const float* w, int out_c, int in_c, bool backward, size_t bytes);
  // The slot's transform failed (memory): its U is not kept.
  void drop(const float* w, bool backward);
  // Drops the entries of weights in [begin, end) (memory being released).
  void forget(const float* begin, const float* end);
  size_t stored_bytes();

 private:
  struct Direction {
    unsigned seen = 0;                         // the weights' version at this direction's last call
    std::unique_ptr<WinogradFilters> filters;  // U for the current version, once stored
    size_t bytes = 0;
    int out_c = 0, in_c = 0, kernel = -1;      // the shape and sgemm kernel of the last call
  };
  void release(Direction& d);
  struct Entry {
    std::vector<float> copy;  // the weights as last seen
    unsigned version = 0;     // counts the changes seen
    Direction direction[2];   // forward, backward data
  };
  std::mutex mutex_;  // forget() comes from release(), which another thread may call during an op
  std::map<const float*, Entry> entries_;  // by address, for forget()'s range
  size_t stored_bytes_ = 0;
};

// Scratch and entry points: one per backend, used by one op at a time (its threads share it).
class WinogradConv {
 public:
  // y (N, K, H, W) = the convolution of x (N, C, H, W) with w (K, C, 3, 3), pad 1, with an epilogue if given.
  void forward(float* y, const float* x, const float* w, const ConvGeometry& g, int threads,
               const ConvEpilogue* epilogue = nullptr);
  // dx (N, C, H, W) = the gradient of that convolution's input, from dy (N, K, H, W).
  void backward_data(float* dx, const float* dy, const float* w, const ConvGeometry& g, int threads);
  // dw (K, C, 3, 3) += the gradient of its filters: F(3x3, 4x4), the transpose of the forward's algorithm,
  //   dW = G^T [ sum over tiles (A dy A^T) (.) (B^T x B) ] G
  // whose sums over tiles are again 36 matrix products (S_xi^T = X_xi DY_xi^T).
  void backward_filter(float* dw, const float* dy, const float* x, const ConvGeometry& g, int threads);

  // The weights in [begin, end) are going away: their cached transforms with them.
  void forget(const float* begin, const float* end) { cache_.forget(begin, end); }
  WinogradFilterCache& cache() { return cache_; }

 private:
  // U of w for this call: from the cache, or transformed into the cache or into packed_.
  const WinogradFilters& filters(const float* w, int out_c, int in_c, bool backward, int threads);
  void convolve(const WinogradFilters& u, float* out, const float* in, int n, int in_c, int out_c, int h, int w,
                int threads, const ConvEpilogue* epilogue);
  int plan_tiles(int n, int in_c, int out_c, int h, int w);  // fills table_, sizes the chunks; returns T

  WinogradFilters packed_;  // U of the calls the cache does not serve
  WinogradFilterCache cache_;
  std::vector<WinogradTile> table_;     // every tile of the batch
  // One chunk's V and M. M is [out_c][36][T]: a channel's 36 rows side by side, so that the output transform
  // reads one block (M_xi is a matrix with rows 36 T apart). V is written in the sgemm's packed form of each
  // V_xi for the forward and backward-data products, and as [in_c][36][T] for the filter gradient's.
  std::vector<float> tiles_, products_;
  std::vector<float> sums_;  // the filter gradient's S [36][in_c][out_c]
};

}  // namespace stfpm
