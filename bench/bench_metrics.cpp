// Times the CPU evaluator on the data tools/bench_metrics_peer.py wrote, beside the peer's figures stored in the
// same file (scikit-learn's roc_auc_score, the numpy/scipy AUPRO oracle), and fails when the results disagree.
// Usage: bench_metrics DATA.h5 [repeats]   (bench/run_metrics_bench.sh runs both sides)
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <vector>

#include "io/hdf5_io.h"
#include "eval/metrics.h"

using namespace stfpm;

namespace {

double median_seconds(int repeats, const std::function<void()>& run) {
  std::vector<double> t;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    run();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DATA.h5 [repeats]   (see bench/run_metrics_bench.sh)\n", argv[0]);
    return 2;
  }
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 7;
  try {
    H5Reader in(argv[1]);
    Shape shape;
    const std::vector<float> maps = in.read_floats("maps", &shape);
    const std::vector<int64_t> mask_values = in.read_ints("masks", nullptr);
    const std::vector<uint8_t> masks(mask_values.begin(), mask_values.end());
    const int n = int(shape[0]), h = int(shape[1]), w = int(shape[2]);
    const size_t plane = size_t(h) * w;
    std::vector<float> image_scores(n);
    std::vector<uint8_t> image_labels(n);
    for (int k = 0; k < n; ++k) {
      image_scores[k] = *std::max_element(maps.begin() + k * plane, maps.begin() + (k + 1) * plane);
      image_labels[k] = *std::max_element(masks.begin() + k * plane, masks.begin() + (k + 1) * plane);
    }

    double auc = 0, pro = 0;
    const double t_auc = median_seconds(repeats, [&] { auc = roc_auc(maps.data(), masks.data(), maps.size()); });
    const double t_pro = median_seconds(repeats, [&] { pro = aupro(pro_curve(maps.data(), masks.data(), n, h, w)); });
    Evaluation e;
    const double t_all = median_seconds(repeats, [&] {
      e = evaluate(maps.data(), masks.data(), n, h, w, image_scores.data(), image_labels.data(), MaskRule::strict);
    });

    const double sk_auc = in.attr_double("sklearn_auc"), sk_s = in.attr_double("sklearn_seconds");
    const double or_pro = in.attr_double("oracle_aupro"), or_s = in.attr_double("oracle_seconds");
    std::printf("bench_metrics: %zu pixels in %d images of %dx%d, %zu defect pixels, %zu components, %d threads, "
                "median of %d\n", maps.size(), n, h, w, e.n_defect_pixels, e.n_components, omp_get_max_threads(),
                repeats);
    std::printf("%-34s %12s %12s %10s %18s\n", "metric", "ours (ms)", "peer (ms)", "speedup", "value");
    std::printf("%-34s %12.1f %12.1f %9.1fx %18.12f\n", "pixel ROC-AUC vs sklearn", t_auc * 1e3, sk_s * 1e3,
                sk_s / t_auc, auc);
    std::printf("%-34s %12.1f %12.1f %9.1fx %18.12f\n", "AUPRO@0.3 vs numpy/scipy oracle", t_pro * 1e3,
                or_s * 1e3, or_s / t_pro, pro);
    std::printf("%-34s %12.1f %12s %10s %18s\n", "evaluate (AUC, F1, PRO curve, ...)", t_all * 1e3, "-", "-", "-");
    std::printf("PRO curve: %zu points; pixel F1 %.4f at threshold %.6g\n", e.pro.fpr.size(), e.pixel_f1.f1,
                e.pixel_f1.threshold);

    const double auc_err = std::fabs(auc - sk_auc), pro_err = std::fabs(pro - or_pro);
    const double all_err = std::max(std::fabs(e.pixel_auroc - sk_auc), std::fabs(e.pixel_aupro - or_pro));
    if (!(auc_err <= 1e-9 && pro_err <= 1e-6 && all_err <= 1e-6)) {
      std::fprintf(stderr, "bench_metrics: WRONG RESULT: AUC %.12f vs sklearn %.12f, AUPRO %.9f vs oracle %.9f\n",
                   auc, sk_auc, pro, or_pro);
      return 1;
    }
    std::printf("results agree with the peers (|dAUC| %.1e, |dAUPRO| %.1e)\n", auc_err, pro_err);
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "bench_metrics: %s\n", ex.what());
    return 1;
  }
  return 0;
}
