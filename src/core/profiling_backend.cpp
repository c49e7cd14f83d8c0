#include "core/profiling_backend.h"

namespace stfpm {
namespace {

// Work of one call. Bytes count every tensor argument once, as read or written (a lower bound on the traffic:
// an op that passes over its input twice moves more), so GB/s compare ops on one scale.
constexpr double kFloat = sizeof(float);

double conv_flops(const ConvGeometry& g) {
  return 2.0 * g.n * g.k * g.out_h() * g.out_w() * double(g.c) * g.r * g.s;
}
double conv_bytes(const ConvGeometry& g) {
  return kFloat * (double(g.in_dims().count()) + double(g.weight_count()) + double(g.out_dims().count()));
}
double pool_bytes(const PoolGeometry& g, int tensors_in, int tensors_out) {
  return kFloat * (tensors_in * double(g.in_dims().count()) + tensors_out * double(g.out_dims().count()));
}

}  // namespace

template <typename Call>
void ProfilingBackend::timed(const char* op, const float* key, double flops, double bytes, Call&& call) {
  if (!recording_) {
    call();
    return;
  }
  double seconds = 0;
  if (timer_) {
    timer_->start();
    call();
    timer_->stop();
    seconds = timer_->seconds();
  } else {
    const auto start = std::chrono::steady_clock::now();
    call();
    if (inner_.kind() != DeviceKind::cpu) inner_.synchronize();
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  std::string layer;
  if (key) {
    const auto named = names_.find(key);
    if (named != names_.end()) layer = named->second;
  }
  const auto where = index_.emplace(std::make_pair(std::string(op), layer), records_.size());
  if (where.second) records_.push_back(Record{op, layer, {}, 0, 0});
  Record& r = records_[where.first->second];
  r.seconds.push_back(seconds);
  r.flops += flops;
  r.bytes += bytes;
}

void ProfilingBackend::upload(float* dst, const float* host_src, size_t count) {
  timed("copy host to device", nullptr, 0, 2 * kFloat * count, [&] { inner_.upload(dst, host_src, count); });
}
void ProfilingBackend::download(float* host_dst, const float* src, size_t count) {
  timed("copy device to host", nullptr, 0, 2 * kFloat * count, [&] { inner_.download(host_dst, src, count); });
}
void ProfilingBackend::copy(float* dst, const float* src, size_t count) {
  timed("copy on device", nullptr, 0, 2 * kFloat * count, [&] { inner_.copy(dst, src, count); });
}
void ProfilingBackend::fill(float* dst, float value, size_t count) {
  timed("fill", nullptr, 0, kFloat * count, [&] { inner_.fill(dst, value, count); });
}

void ProfilingBackend::conv_forward(float* y, const float* x, const float* w, const ConvGeometry& g) {
  timed("conv forward", w, conv_flops(g), conv_bytes(g), [&] { inner_.conv_forward(y, x, w, g); });
}
void ProfilingBackend::conv_backward_data(float* dx, const float* dy, const float* w, const ConvGeometry& g) {
  timed("conv backward-data", w, conv_flops(g), conv_bytes(g), [&] { inner_.conv_backward_data(dx, dy, w, g); });
}
void ProfilingBackend::conv_backward_filter(float* dw, const float* dy, const float* x, const ConvGeometry& g) {
  timed("conv backward-filter", dw, conv_flops(g), conv_bytes(g),
        [&] { inner_.conv_backward_filter(dw, dy, x, g); });
}

void ProfilingBackend::conv_bn_forward_eval(float* y, const float* x, const float* w, const ConvGeometry& g,
                                            const BatchNormEval& bn, bool relu) {
  timed(relu ? "conv+batchnorm+relu (eval)" : "conv+batchnorm (eval)", w, conv_flops(g), conv_bytes(g),
        [&] { inner_.conv_bn_forward_eval(y, x, w, g, bn, relu); });
}

void ProfilingBackend::batchnorm_forward_train(float* y, float* save_mean, float* save_invstd, float* running_mean,
                                               float* running_var, const float* x, const float* gamma,
                                               const float* beta, const Dims& d, float momentum, float eps) {
  timed("batchnorm forward (train)", gamma, 0, 2 * kFloat * double(d.count()), [&] {
    inner_.batchnorm_forward_train(y, save_mean, save_invstd, running_mean, running_var, x, gamma, beta, d,
                                   momentum, eps);
  });
}
void ProfilingBackend::batchnorm_forward_eval(float* y, const float* x, const float* gamma, const float* beta,
                                              const float* running_mean, const float* running_var, const Dims& d,
                                              float eps) {
  timed("batchnorm forward (eval)", gamma, 0, 2 * kFloat * double(d.count()),
        [&] { inner_.batchnorm_forward_eval(y, x, gamma, beta, running_mean, running_var, d, eps); });
}
void ProfilingBackend::batchnorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                                          const float* save_mean, const float* save_invstd, const float* gamma,
                                          const Dims& d) {
  timed("batchnorm backward", gamma, 0, 3 * kFloat * double(d.count()),
        [&] { inner_.batchnorm_backward(dx, dgamma, dbeta, dy, x, save_mean, save_invstd, gamma, d); });
}

void ProfilingBackend::relu_forward(float* y, const float* x, size_t count) {
  timed("relu forward", nullptr, 0, 2 * kFloat * count, [&] { inner_.relu_forward(y, x, count); });
}
void ProfilingBackend::relu_backward(float* dx, const float* dy, const float* y, size_t count) {
  timed("relu backward", nullptr, 0, 3 * kFloat * count, [&] { inner_.relu_backward(dx, dy, y, count); });
}
void ProfilingBackend::add(float* y, const float* a, const float* b, size_t count) {
  timed("add", nullptr, 0, 3 * kFloat * count, [&] { inner_.add(y, a, b, count); });
}
void ProfilingBackend::maxpool_forward(float* y, const float* x, const PoolGeometry& g) {
  timed("maxpool forward", nullptr, 0, pool_bytes(g, 1, 1), [&] { inner_.maxpool_forward(y, x, g); });
}
void ProfilingBackend::maxpool_backward(float* dx, const float* dy, const float* y, const float* x,
                                        const PoolGeometry& g) {
  timed("maxpool backward", nullptr, 0, pool_bytes(g, 2, 2), [&] { inner_.maxpool_backward(dx, dy, y, x, g); });
}

void ProfilingBackend::pyramid_loss(float* loss, float* grad_s, const FeaturePair& f, float alpha) {
  timed("pyramid loss", nullptr, 0, (grad_s ? 3 : 2) * kFloat * double(f.dims.count()),
        [&] { inner_.pyramid_loss(loss, grad_s, f, alpha); });
}
void ProfilingBackend::anomaly_map(float* map, float* level_maps, const std::vector<FeaturePair>& levels, int out_h,
                                   int out_w) {
  double elements = 0;
  const double out = levels.empty() ? 0 : double(levels[0].dims.n) * out_h * out_w;
  for (const FeaturePair& f : levels) elements += 2 * double(f.dims.count()) + (level_maps ? out : 0);
  timed("anomaly map", nullptr, 0, kFloat * (elements + out),
        [&] { inner_.anomaly_map(map, level_maps, levels, out_h, out_w); });
}
void ProfilingBackend::sgd_step(float* params, float* momentum_buf, const float* grads, size_t count, float lr,
                                float momentum, float weight_decay, bool first_step) {
  timed("sgd step", nullptr, 0, 5 * kFloat * count,
        [&] { inner_.sgd_step(params, momentum_buf, grads, count, lr, momentum, weight_decay, first_step); });
}

}  // namespace stfpm
