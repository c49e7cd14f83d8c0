// The pyramid loss (forward + gradient to the student) at the STFPM shapes of batch 32, every kernel version,
// against the copy bandwidth. Minimum traffic: read t and s, write the gradient (12 bytes per value).
#include <cmath>
#include <string>

#include "bench_util.h"
#include "kernels.h"

namespace stfpm::bench {

void bench_pyramid_loss(GpuBench& b) {
  b.header("pyramid loss: forward + gradient to the student, batch 32");
  const Dims levels[] = {{32, 64, 64, 64}, {32, 128, 32, 32}, {32, 256, 16, 16}};
  const size_t optin = b.shared_mem_optin();
  uint64_t seed = 1;
  for (const Dims& d : levels) {
    const size_t n = d.count();
    std::vector<float> t = random_values(n, seed++), s = random_values(n, seed++, -0.3f, 0.3f);
    for (size_t i = 0; i < n; ++i) s[i] += t[i];  // a student near its teacher, as after some training
    Buffer tc(b.cpu(), n), sc(b.cpu(), n), lc(b.cpu(), 1), gc(b.cpu(), n);
    Buffer tg(b.gpu(), n), sg(b.gpu(), n), lg(b.gpu(), 1), gg(b.gpu(), n);
    tc.upload(t);
    sc.upload(s);
    tg.upload(t);
    sg.upload(s);
    b.cpu().pyramid_loss(lc.data(), gc.data(), FeaturePair{tc.data(), sc.data(), d}, 1.0f);
    const float want_loss = lc.download()[0];
    const std::vector<float> want_grad = gc.download();
    const FeaturePair pair{tg.data(), sg.data(), d};
    const double bytes = 12.0 * double(n), loss_only_bytes = 8.0 * double(n);
    const std::string shape = dims_str(d);
    b.row("pyramid_loss", "0: cudaMemcpy, same bytes", shape, b.copy_ms(size_t(bytes / 2)), bytes);
    for (int version = 1; version <= gpu::kPyramidVersions; ++version) {
      const int runs = gpu::pyramid_effective_version(version, d.c, optin);
      Buffer scratch(b.gpu(), gpu::pyramid_loss_scratch_bytes(version, d, optin) / sizeof(float) + 2);
      auto launch = [&](float* grad) {
        gpu::launch_pyramid_loss(version, lg.data(), grad, pair, 1.0f, scratch.data(), optin, b.stream());
      };
      b.gpu().fill(lg.data(), 0.0f, 1);
      launch(gg.data());
      const float got_loss = lg.download()[0];
      const double grad_err = normalized_error(gg.download(), want_grad);
      b.check("pyramid_loss v" + std::to_string(version) + " " + shape + ": loss " + std::to_string(got_loss) +
                  " vs cpu " + std::to_string(want_loss) + ", grad nmse " + std::to_string(grad_err),
              std::fabs(got_loss - want_loss) <= 1e-5 * std::fabs(want_loss) && grad_err <= 1e-10);
      const std::string name = std::to_string(version) + (runs == 1 ? ": thread per pixel" : ": smem tile of 32 px") +
                               (runs != version ? " (fell back to 1)" : "");
      const double ms = b.time_ms([&] { launch(gg.data()); });
      b.row("pyramid_loss", name, shape, ms, bytes);
      if (version == gpu::kPyramidDefault) b.target("pyramid_loss default " + shape, ms, bytes, 0.7);
      b.row("  loss only", name, shape, b.time_ms([&] { launch(nullptr); }), loss_only_bytes);
    }
  }
}

}  // namespace stfpm::bench
