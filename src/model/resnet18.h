// The ResNet-18 trunk STFPM uses (conv1, bn1, relu, maxpool, layer1..layer3), for teacher and student alike.
//
// One table of named tensors (torchvision's state_dict names) drives everything: it lays out the parameters in one
// contiguous buffer (so SGD is one op over all of them), the BatchNorm running statistics in another, HDF5 loading
// and saving, initialization, and the tolerances the parity tests use. Activations are planned once for the
// largest batch (plan()); forward() and backward() never allocate.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/tensor.h"

namespace stfpm {

class H5Reader;
class H5Writer;

enum class TensorRole { conv_weight, bn_weight, bn_bias, bn_running_mean, bn_running_var };

struct TensorEntry {
  std::string name;  // torchvision state_dict key, e.g. "layer2.0.downsample.1.weight"
  Shape shape;
  TensorRole role;
  size_t offset;  // into the parameter buffer (trainable roles) or the running-statistics buffer
  // Parity tests against PyTorch accept a max abs error of tolerance * max|expected| for this tensor's gradient
  // after one step (grad_tolerance) and for its change after two SGD steps (update_tolerance); see
  // tests/test_parity.cpp for the measured errors behind these values.
  double grad_tolerance;
  double update_tolerance;
  bool trainable() const { return role != TensorRole::bn_running_mean && role != TensorRole::bn_running_var; }
};

// The three pyramid levels (outputs of layer1, layer2, layer3), in backend memory, valid until the next forward.
struct Features {
  std::array<const float*, 3> data{};
  std::array<Dims, 3> dims{};
  FeaturePair pair(const Features& student, int level) const;  // this = teacher
};

class ResNet18Trunk {
 public:
  static constexpr int kLevels = 3;          // layer1..layer3, each of kBlocksPerLayer BasicBlocks
  static constexpr int kBlocksPerLayer = 2;
  static constexpr float kBnMomentum = 0.1f;
  static constexpr float kBnEps = 1e-5f;

  // Parameters and running statistics start at zero: call init_student() or load().
  explicit ResNet18Trunk(Backend& backend);

  // ---- tensors ------------------------------------------------------------------------------------------
  const std::vector<TensorEntry>& tensors() const { return table_; }  // parameters and running statistics
  const TensorEntry& entry(const std::string& name) const;            // throws on an unknown name
  size_t parameter_count() const { return param_count_; }
  float* params() { return params_.data(); }        // (parameter_count)
  float* grads() { return grads_.data(); }          // (parameter_count); allocated by plan(train = true)
  float* running_stats() { return stats_.data(); }  // means and variances of every BatchNorm
  float* data_of(const TensorEntry& e);             // the entry's first element in backend memory

  // torchvision's initialization: conv weights kaiming-normal (fan_out, ReLU gain), BN weight 1, bias 0,
  // running mean 0, running variance 1. Deterministic for a seed.
  void init_student(uint64_t seed);
  // Every table tensor, by name (with an optional group prefix such as "model/"); a missing tensor or a shape
  // mismatch is an error naming the tensor and the file.
  void load(const H5Reader& in, const std::string& prefix = "");
  void save(H5Writer& out, const std::string& prefix = "") const;
  HostTensor get(const std::string& name) const;
  void set(const std::string& name, const HostTensor& value);

  // ---- passes -------------------------------------------------------------------------------------------
  // Plans activations (and, for training, gradient buffers) for batches of up to max_batch images of
  // (3, height, width). Called once; forward/backward then reuse the memory.
  void plan(int max_batch, int height, int width, bool train);
  // The (n, C, H, W) of each pyramid level for inputs of (n, 3, height, width).
  std::array<Dims, 3> feature_dims(int n, int height, int width) const;
  // Bytes plan() allocates on the backend per image (activations and gradient scratch), for memory hints.
  size_t bytes_per_image(int height, int width, bool train) const;

  // x (n, 3, H, W) in backend memory, n <= max_batch. train: BatchNorm uses batch statistics and updates the
  // running ones (and activations are kept for backward); eval: running statistics. x must stay valid until
  // backward() returns.
  Features forward(const float* x, int n, bool train) { return forward(x, n, train, backend_); }
  // The same with its ops issued on `on`, a backend sharing this one's memory (Backend::run_side_by_side).
  Features forward(const float* x, int n, bool train, Backend& on);
  // Backpropagates d(loss)/d(features) (each (n, C_l, H_l, W_l), backend memory) through the last train-mode
  // forward; accumulates into grads(). Call zero_grad() first.
  void backward(const std::array<const float*, 3>& feature_grads);
  void zero_grad();

 private:
  // A convolution and the BatchNorm after it, as indices into table_.
  struct ConvBn {
    size_t weight, gamma, beta, mean, var;
    int in_c, out_c, kernel, stride, pad;
  };
  // A BasicBlock: indices into convs_; downsample < 0 when the identity is added.
  struct Block {
    size_t conv1, conv2;
    int downsample = -1;
  };
  // The planned activations of one ConvBn (at the largest batch) and what its last forward read.
  struct Unit {
    ConvGeometry geom;
    float* z = nullptr;            // conv output (N, K, OH, OW), the BatchNorm input
    float* a = nullptr;            // BatchNorm output (N, K, OH, OW), ReLU applied in place where the net has one
    float* save_mean = nullptr;    // (K)
    float* save_invstd = nullptr;  // (K)
    const float* input = nullptr;  // conv input of the last forward
    ConvGeometry geom_at(int n) const {
      ConvGeometry g = geom;
      g.n = n;
      return g;
    }
  };
  void add_conv_bn(const std::string& conv, const std::string& bn, int in_c, int out_c, int kernel, int stride,
                   double update_tolerance);
  std::vector<ConvGeometry> geometries(int n, int height, int width, PoolGeometry* pool) const;
  struct EvalBuffers;
  EvalBuffers eval_buffers(const std::vector<ConvGeometry>& geoms) const;
  // The unit's conv, BatchNorm and (relu) ReLU on `images` images (0: the whole batch).
  void conv_bn_forward(Backend& on, size_t unit, const float* x, bool train, bool relu, int images = 0);
  void conv_bn_backward(size_t unit, float* dx, float* dz, const float* dy);
  void block_backward(size_t block, float* dout, float* dx, float* scratch1, float* scratch2);

  Backend& backend_;
  std::vector<TensorEntry> table_;
  std::vector<ConvBn> convs_;   // stem conv first, then every block's conv1, conv2 and downsample
  std::vector<Block> blocks_;   // layer1.0, layer1.1, layer2.0, ... layer3.1
  size_t param_count_ = 0, stats_count_ = 0;
  Buffer params_, grads_, stats_;

  // planned state
  std::vector<Unit> units_;  // parallel to convs_
  Buffer activations_, scratch_;
  PoolGeometry pool_;
  float* pool_out_ = nullptr;
  std::array<float*, 4> grad_scratch_{};
  int max_batch_ = 0, height_ = 0, width_ = 0, batch_ = 0;
  int stem_images_ = 1;  // eval-only plans: the stem's images per call (EvalBuffers)
  bool planned_train_ = false, last_forward_train_ = false;
  const float* input_ = nullptr;
};

}  // namespace stfpm
