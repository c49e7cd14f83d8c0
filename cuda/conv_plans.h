// cuDNN convolutions: descriptors and the algorithm choice for each geometry, made in ONE place (make_plan in
// conv_plans.cpp) and cached in a map keyed by the geometry.
//
// prepare() plans a geometry with a workspace limit of its own and grows the context's workspace to fit; get()
// returns the plan, planning unseen geometries (a smaller last batch, direct calls from tests) within the
// workspace that already exists, so no op ever allocates.
//
// We use cuDNN's legacy convolution API (cudnnConvolutionForward and friends): deprecated in cuDNN 9 in favour of
// the graph API but present in every 9.x. Algorithms come from the _v7 heuristics (the removed v7-era
// cudnnGet*Algorithm calls are not used); in strict FP32 mode the descriptors carry CUDNN_FMA_MATH so no TF32
// tensor-core kernel can run.
#pragma once

#include <cudnn.h>

#include <array>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/backend.h"
#include "context.h"

namespace stfpm::gpu {

// One algorithm as the heuristics list it (fastest first), reduced to what the choice depends on.
struct AlgoCandidate {
  bool available = false;      // cuDNN reported success and its workspace size could be queried
  bool deterministic = false;  // same bits on every run (no atomics)
  bool fma_math = false;       // plain FP32 FMA math, no tensor cores
  bool tensor_ops = false;     // uses tensor cores (TF32 for float data)
  size_t workspace = 0;        // bytes
};

// The index of the candidate to use, or -1 when none qualifies. Only available candidates whose workspace fits the
// limit qualify; strict FP32 mode excludes tensor-op algorithms and prefers those labelled FMA; among the rest the
// first deterministic one wins, else the first (the heuristics' fastest).
int choose_algorithm(const std::vector<AlgoCandidate>& candidates, size_t workspace_limit, bool strict_fp32);

// "x (32, 64, 56, 56) * w (64, 64, 3, 3), stride 1, pad 1", for error messages.
std::string describe_geometry(const ConvGeometry& g);

struct ConvPlan;

class ConvPlans {
 public:
  explicit ConvPlans(Context& context);
  ~ConvPlans();
  ConvPlans(const ConvPlans&) = delete;
  ConvPlans& operator=(const ConvPlans&) = delete;

  void prepare(const ConvGeometry& g);
  const ConvPlan& get(const ConvGeometry& g);

 private:
  using Key = std::array<int, 9>;
  Context& context_;
  std::map<Key, std::unique_ptr<ConvPlan>> plans_;
};

// The RAII descriptors and chosen algorithms of one geometry.
struct TensorDescDeleter {
  void operator()(cudnnTensorStruct* d) const;
};
struct FilterDescDeleter {
  void operator()(cudnnFilterStruct* d) const;
};
struct ConvDescDeleter {
  void operator()(cudnnConvolutionStruct* d) const;
};
using TensorDesc = std::unique_ptr<cudnnTensorStruct, TensorDescDeleter>;
using FilterDesc = std::unique_ptr<cudnnFilterStruct, FilterDescDeleter>;
using ConvDesc = std::unique_ptr<cudnnConvolutionStruct, ConvDescDeleter>;

struct ConvPlan {
  TensorDesc x, y;  // (N, C, H, W), (N, K, OH, OW)
  FilterDesc w;     // (K, C, R, S)
  // One convolution descriptor per pass, because each carries the math type of its chosen algorithm.
  ConvDesc forward_desc, data_desc, filter_desc;
  cudnnConvolutionFwdAlgo_t forward_algo{};
  cudnnConvolutionBwdDataAlgo_t data_algo{};
  cudnnConvolutionBwdFilterAlgo_t filter_algo{};
  size_t forward_workspace = 0, data_workspace = 0, filter_workspace = 0;
  size_t max_workspace() const;
};

}  // namespace stfpm::gpu
