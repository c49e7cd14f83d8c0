// The SGD update over all student parameters (one call, as the model makes it) and over a large buffer that does
// not fit in L2, every kernel version. Minimum traffic: read params, momentum and grads, write params and momentum
// (20 bytes per parameter).
#include <string>

#include "bench_util.h"
#include "kernels.h"
#include "model/resnet18.h"

namespace stfpm::bench {

void bench_sgd(GpuBench& b) {
  b.header("SGD step (momentum 0.9, weight decay 1e-4)");
  const size_t trunk = ResNet18Trunk(b.cpu()).parameter_count();
  for (size_t count : {trunk, size_t(64) << 20}) {
    const std::string shape = std::to_string(count) + (count == trunk ? " (student)" : " (64 Mi)");
    const std::vector<float> p0 = random_values(count, 1), g1 = random_values(count, 2), g2 = random_values(count, 3);
    Buffer pc(b.cpu(), count), mc(b.cpu(), count), gc(b.cpu(), count);
    pc.upload(p0);
    gc.upload(g1);
    b.cpu().sgd_step(pc.data(), mc.data(), gc.data(), count, 0.4f, 0.9f, 1e-4f, true);
    gc.upload(g2);
    b.cpu().sgd_step(pc.data(), mc.data(), gc.data(), count, 0.4f, 0.9f, 1e-4f, false);
    const std::vector<float> want_p = pc.download(), want_m = mc.download();
    const double bytes = 20.0 * double(count);
    b.row("sgd", "0: cudaMemcpy, same bytes", shape, b.copy_ms(size_t(bytes / 2)), bytes);
    Buffer p(b.gpu(), count), m(b.gpu(), count), g(b.gpu(), count);
    for (int version = 1; version <= gpu::kSgdVersions; ++version) {
      auto step = [&](bool first) {
        gpu::launch_sgd(version, p.data(), m.data(), g.data(), count, 0.4f, 0.9f, 1e-4f, first, b.stream());
      };
      p.upload(p0);
      g.upload(g1);
      step(true);
      g.upload(g2);
      step(false);
      const double err_p = normalized_error(p.download(), want_p), err_m = normalized_error(m.download(), want_m);
      b.check("sgd v" + std::to_string(version) + " " + shape + ": nmse params " + std::to_string(err_p) +
                  ", momentum " + std::to_string(err_m),
              err_p <= 1e-12 && err_m <= 1e-12);
      const std::string name = std::to_string(version) + (version == 1 ? ": scalar grid-stride" : ": float4");
      const double ms = b.time_ms([&] { step(false); });
      b.row("sgd", name, shape, ms, bytes);
      if (version == gpu::kSgdDefault) b.target("sgd default " + shape, ms, bytes, 0.7);
    }
  }
}

}  // namespace stfpm::bench
