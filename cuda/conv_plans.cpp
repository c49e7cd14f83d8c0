// The cuDNN convolution planner: descriptors and algorithm choice per geometry.
#include "conv_plans.h"

#include <algorithm>
#include <stdexcept>

#include "check.h"

namespace stfpm::gpu {
namespace {

constexpr size_t kMaxPlannedWorkspace = size_t(512) << 20;  // prepare(): never more than this per convolution

std::string dims_str(int a, int b, int c, int d) {
  return "(" + std::to_string(a) + ", " + std::to_string(b) + ", " + std::to_string(c) + ", " + std::to_string(d) +
         ")";
}

void validate(const ConvGeometry& g) {
  if (g.n < 1 || g.c < 1 || g.h < 1 || g.w < 1 || g.k < 1 || g.r < 1 || g.s < 1 || g.stride < 1 || g.pad < 0 ||
      g.out_h() < 1 || g.out_w() < 1)
    throw std::invalid_argument("convolution: invalid geometry " + describe_geometry(g));
}

bool tensor_op_math(cudnnMathType_t m) {
  return m == CUDNN_TENSOR_OP_MATH || m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

// From the heuristics' list (fastest first), picks the algorithm of one pass, sets its math type on desc and
// returns it with its workspace. query_workspace(algo, &bytes) asks cuDNN for the algorithm's workspace with the
// math type currently on desc.
template <class Perf, class Algo, class Query>
Algo pick(const std::vector<Perf>& perfs, cudnnConvolutionDescriptor_t desc, bool strict, size_t limit,
          Query query_workspace, size_t* workspace, const char* pass, const ConvGeometry& g) {
  std::vector<AlgoCandidate> candidates(perfs.size());
  for (size_t i = 0; i < perfs.size(); ++i) {
    const Perf& p = perfs[i];
    AlgoCandidate& c = candidates[i];
    c.deterministic = p.determinism == CUDNN_DETERMINISTIC;
    c.fma_math = p.mathType == CUDNN_FMA_MATH;
    c.tensor_ops = tensor_op_math(p.mathType);
    if (p.status != CUDNN_STATUS_SUCCESS) continue;
    if (cudnnSetConvolutionMathType(desc, strict ? CUDNN_FMA_MATH : p.mathType) != CUDNN_STATUS_SUCCESS) continue;
    c.available = query_workspace(p.algo, &c.workspace) == CUDNN_STATUS_SUCCESS;
  }
  const int chosen = choose_algorithm(candidates, limit, strict);
  if (chosen < 0)
    throw std::runtime_error(std::string("cuDNN offers no ") + pass + " algorithm for the convolution " +
                             describe_geometry(g) + " within " + std::to_string(limit >> 20) +
                             " MiB of workspace" + (strict ? " in strict FP32 mode" : "") +
                             " (was prepare_conv called for this geometry?)");
  const Perf& p = perfs[size_t(chosen)];
  CUDNN_CHECK(cudnnSetConvolutionMathType(desc, strict ? CUDNN_FMA_MATH : p.mathType));
  *workspace = candidates[size_t(chosen)].workspace;
  return p.algo;
}

ConvDesc make_conv_desc(const ConvGeometry& g, bool strict) {
  cudnnConvolutionDescriptor_t raw = nullptr;
  CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&raw));
  ConvDesc desc(raw);
  // Cross-correlation (what deep-learning frameworks call convolution), FP32 accumulation.
  CUDNN_CHECK(cudnnSetConvolution2dDescriptor(raw, g.pad, g.pad, g.stride, g.stride, 1, 1, CUDNN_CROSS_CORRELATION,
                                              CUDNN_DATA_FLOAT));
  // The heuristics list algorithms for the math type on the descriptor.
  CUDNN_CHECK(cudnnSetConvolutionMathType(raw, strict ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH));
  return desc;
}

TensorDesc make_tensor_desc(int n, int c, int h, int w) {
  cudnnTensorDescriptor_t raw = nullptr;
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&raw));
  TensorDesc desc(raw);
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(raw, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, h, w));
  return desc;
}

// The one place where algorithms are chosen.
std::unique_ptr<ConvPlan> make_plan(Context& ctx, const ConvGeometry& g, size_t limit) {
  validate(g);
  const bool strict = !ctx.allow_tf32();
  cudnnHandle_t h = ctx.cudnn();
  auto plan = std::make_unique<ConvPlan>();
  plan->x = make_tensor_desc(g.n, g.c, g.h, g.w);
  plan->y = make_tensor_desc(g.n, g.k, g.out_h(), g.out_w());
  cudnnFilterDescriptor_t raw_w = nullptr;
  CUDNN_CHECK(cudnnCreateFilterDescriptor(&raw_w));
  plan->w.reset(raw_w);
  CUDNN_CHECK(cudnnSetFilter4dDescriptor(raw_w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, g.k, g.c, g.r, g.s));
  plan->forward_desc = make_conv_desc(g, strict);
  plan->data_desc = make_conv_desc(g, strict);
  plan->filter_desc = make_conv_desc(g, strict);

  // Our output-size formula and cuDNN's must agree, or every pass below would read the wrong shapes.
  int on = 0, oc = 0, oh = 0, ow = 0;
  CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(plan->forward_desc.get(), plan->x.get(), raw_w, &on, &oc, &oh, &ow));
  if (on != g.n || oc != g.k || oh != g.out_h() || ow != g.out_w())
    throw std::logic_error("cuDNN computes output " + dims_str(on, oc, oh, ow) + " for the convolution " +
                           describe_geometry(g));

  cudnnTensorDescriptor_t x = plan->x.get(), y = plan->y.get();
  int count = 0, returned = 0;
  {
    cudnnConvolutionDescriptor_t desc = plan->forward_desc.get();
    CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(h, &count));
    std::vector<cudnnConvolutionFwdAlgoPerf_t> perfs(size_t(std::max(count, 1)));
    CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, x, raw_w, desc, y, int(perfs.size()), &returned, perfs.data()));
    perfs.resize(size_t(returned));
    plan->forward_algo = pick<cudnnConvolutionFwdAlgoPerf_t, cudnnConvolutionFwdAlgo_t>(
        perfs, desc, strict, limit,
        [&](cudnnConvolutionFwdAlgo_t a, size_t* bytes) {
          return cudnnGetConvolutionForwardWorkspaceSize(h, x, raw_w, desc, y, a, bytes);
        },
        &plan->forward_workspace, "forward", g);
  }
  {
    cudnnConvolutionDescriptor_t desc = plan->data_desc.get();
    CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, &count));
    std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perfs(size_t(std::max(count, 1)));
    CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, raw_w, y, desc, x, int(perfs.size()), &returned,
                                                            perfs.data()));
    perfs.resize(size_t(returned));
    plan->data_algo = pick<cudnnConvolutionBwdDataAlgoPerf_t, cudnnConvolutionBwdDataAlgo_t>(
        perfs, desc, strict, limit,
        [&](cudnnConvolutionBwdDataAlgo_t a, size_t* bytes) {
          return cudnnGetConvolutionBackwardDataWorkspaceSize(h, raw_w, y, desc, x, a, bytes);
        },
        &plan->data_workspace, "backward-data", g);
  }
  {
    cudnnConvolutionDescriptor_t desc = plan->filter_desc.get();
    CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, &count));
    std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perfs(size_t(std::max(count, 1)));
    CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, x, y, desc, raw_w, int(perfs.size()), &returned,
                                                              perfs.data()));
    perfs.resize(size_t(returned));
    plan->filter_algo = pick<cudnnConvolutionBwdFilterAlgoPerf_t, cudnnConvolutionBwdFilterAlgo_t>(
        perfs, desc, strict, limit,
        [&](cudnnConvolutionBwdFilterAlgo_t a, size_t* bytes) {
          return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, x, y, desc, raw_w, a, bytes);
        },
        &plan->filter_workspace, "backward-filter", g);
  }
  return plan;
}

}  // namespace

void TensorDescDeleter::operator()(cudnnTensorStruct* d) const { cudnnDestroyTensorDescriptor(d); }
void FilterDescDeleter::operator()(cudnnFilterStruct* d) const { cudnnDestroyFilterDescriptor(d); }
void ConvDescDeleter::operator()(cudnnConvolutionStruct* d) const { cudnnDestroyConvolutionDescriptor(d); }

size_t ConvPlan::max_workspace() const { return std::max({forward_workspace, data_workspace, filter_workspace}); }

int choose_algorithm(const std::vector<AlgoCandidate>& candidates, size_t workspace_limit, bool strict_fp32) {
  // Preference tiers, best first: (labelled FMA when strict, deterministic), then relax determinism, then (strict
  // mode only) accept algorithms not labelled FMA that are not tensor-op either; the descriptor still says FMA.
  for (int need_fma = strict_fp32 ? 1 : 0; need_fma >= 0; --need_fma) {
    for (int need_deterministic = 1; need_deterministic >= 0; --need_deterministic) {
      for (size_t i = 0; i < candidates.size(); ++i) {
        const AlgoCandidate& c = candidates[i];
        if (!c.available || c.workspace > workspace_limit) continue;
        if (strict_fp32 && c.tensor_ops) continue;
        if (need_fma && !c.fma_math) continue;
        if (need_deterministic && !c.deterministic) continue;
        return int(i);
      }
    }
  }
  return -1;
}

std::string describe_geometry(const ConvGeometry& g) {
  return "x " + dims_str(g.n, g.c, g.h, g.w) + " * w " + dims_str(g.k, g.c, g.r, g.s) + ", stride " +
         std::to_string(g.stride) + ", pad " + std::to_string(g.pad);
}

ConvPlans::ConvPlans(Context& context) : context_(context) {}
ConvPlans::~ConvPlans() = default;

void ConvPlans::prepare(const ConvGeometry& g) {
  const size_t limit = std::max(context_.workspace_size(), std::min(kMaxPlannedWorkspace, context_.free_memory() / 8));
  std::unique_ptr<ConvPlan> plan = make_plan(context_, g, limit);
  context_.grow_workspace(plan->max_workspace());
  plans_[Key{g.n, g.c, g.h, g.w, g.k, g.r, g.s, g.stride, g.pad}] = std::move(plan);
}

const ConvPlan& ConvPlans::get(const ConvGeometry& g) {
  const Key key{g.n, g.c, g.h, g.w, g.k, g.r, g.s, g.stride, g.pad};
  auto it = plans_.find(key);
  if (it == plans_.end()) it = plans_.emplace(key, make_plan(context_, g, context_.workspace_size())).first;
  return *it->second;
}

}  // namespace stfpm::gpu
