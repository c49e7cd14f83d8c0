#!/usr/bin/python3
"""The peer side of bench/run_metrics_bench.sh: makes the benchmark data and times scikit-learn on it.

Writes OUT.h5 with
  maps (N, H, W) float32   heavy-tailed anomaly scores, higher inside defects, smooth like real anomaly maps
  masks (N, H, W) uint8    0/1, blob-shaped defects (unions of distorted ellipses) in the anomalous images
and root attributes with the peer's results on exactly these arrays:
  sklearn_auc, sklearn_seconds     sklearn.metrics.roc_auc_score on the pooled pixels (median of --repeat runs)
  oracle_aupro, oracle_seconds     the numpy/scipy AUPRO oracle of tools/make_metrics_fixtures.py (one run)
bench_metrics then times the C++ evaluator on the same file and prints the ratios.

Usage: /usr/bin/python3 tools/bench_metrics_peer.py OUT.h5 [--images 92] [--size 256] [--repeat 3]
"""
import argparse
import os
import statistics
import sys
import time

import h5py
import numpy as np
from scipy import ndimage
from sklearn.metrics import roc_auc_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_metrics_fixtures import area, pro_curve  # noqa: E402  (the AUPRO oracle)


def make_data(n, size, seed=1):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    masks = np.zeros((n, size, size), np.uint8)
    n_good = n // 4  # MVTec test sets hold roughly a quarter of good images
    for i in range(n_good, n):
        wobble = ndimage.gaussian_filter(rng.standard_normal((size, size)), 6) * 6
        for _ in range(rng.integers(1, 4)):
            cy, cx = rng.uniform(0.1, 0.9, 2) * size
            ry, rx = rng.uniform(0.01, 0.12, 2) * size
            masks[i][((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1 + wobble] = 1
    noise = ndimage.gaussian_filter(rng.standard_normal((n, size, size)).astype(np.float32), (0, 4, 4))
    noise /= noise.std()
    boost = ndimage.gaussian_filter(masks.astype(np.float32), (0, 3, 3))
    # Log-normal background with a heavy right tail inside defects; pixel AUC about 0.97, as STFPM reaches.
    maps = np.exp(noise + 3.5 * boost) * 1e-3
    return maps.astype(np.float32), masks


def median_time(fn, repeat):
    times, value = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return value, statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--images", type=int, default=92)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    maps, masks = make_data(args.images, args.size)
    scores, labels = maps.ravel(), masks.ravel()
    auc, auc_s = median_time(lambda: roc_auc_score(labels, scores), args.repeat)
    t0 = time.perf_counter()
    fpr, pro, _, n_comp = pro_curve(maps, masks)
    aupro = area(fpr, pro, 0.3)
    aupro_s = time.perf_counter() - t0
    with h5py.File(args.out, "w") as f:
        f.create_dataset("maps", data=maps)
        f.create_dataset("masks", data=masks)
        f.attrs.update({"sklearn_auc": auc, "sklearn_seconds": auc_s, "oracle_aupro": aupro,
                        "oracle_seconds": aupro_s, "components": n_comp})
    print(f"peer: {scores.size} pixels ({labels.mean() * 100:.2f}% defect, {n_comp} components) in {args.images} "
          f"images; sklearn roc_auc_score {auc:.12f} in {auc_s * 1e3:.0f} ms (median of {args.repeat}); "
          f"numpy/scipy AUPRO oracle {aupro:.9f} in {aupro_s * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
