#!/usr/bin/python3
"""Writes tests/data/metrics_fixture.h5: inputs and expected results for the CPU evaluator (src/metrics.h).

Oracles: scikit-learn's roc_auc_score for ROC-AUC, and a straightforward numpy/scipy implementation of the
MVTec AD AUPRO (scipy.ndimage.label with a 3x3 structure for 8-connected components, a stable sort, cumulative
sums, one point per distinct score). The best-F1 threshold is computed over every distinct score and cross-checked
against scikit-learn's precision_recall_curve. Deterministic: fixed seeds, no timestamps in the file.

Usage: /usr/bin/python3 tools/make_metrics_fixtures.py [OUT.h5]   (default tests/data/metrics_fixture.h5)

Layout, one group per case:
  auc_ties/, auc_cont/     scores (n) float32, labels (n) uint8, expected_auc (), expected_f1 (4)
  pro_ties/, pro_cont/     maps (N, H, W) float32, masks (N, H, W) uint8 0/1, image_scores (N), image_labels (N),
                           expected_pixel_auc, expected_image_auc, expected_pixel_f1 (4), expected_image_f1 (4),
                           expected_n_components, expected_aupro (3) at max_fpr expected_aupro_limits (3),
                           expected_curve_fpr / _pro / _threshold (the curve as src/metrics.h defines it)
F1 vectors are (threshold, f1, precision, recall).
"""
import os
import sys

import h5py
import numpy as np
from scipy import ndimage
from sklearn.metrics import precision_recall_curve, roc_auc_score

AUPRO_LIMITS = np.array([0.3, 0.05, 1.0])


def best_f1(scores, labels):
    """Threshold maximizing F1 for 'score >= t'; ties go to the highest threshold."""
    s = scores.astype(np.float64)
    thresholds = np.unique(s)[::-1]
    n_pos = labels.sum()
    best = (np.nan,) * 4
    best_f1_value = -1.0
    for t in thresholds:
        predicted = s >= t
        tp = int(np.sum(predicted & (labels == 1)))
        fp = int(np.sum(predicted & (labels == 0)))
        f1 = 2.0 * tp / (tp + fp + n_pos)
        if f1 > best_f1_value:
            best_f1_value = f1
            best = (t, f1, tp / (tp + fp), tp / n_pos)
    precision, recall, _ = precision_recall_curve(labels, s)
    with np.errstate(invalid="ignore", divide="ignore"):
        sk_f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
    assert abs(sk_f1.max() - best[1]) < 1e-12, (sk_f1.max(), best)
    return np.array(best)


def components(masks):
    """8-connected components per image, numbered over all images from 1; 0 = defect-free."""
    comp = np.zeros(masks.shape, np.int64)
    total = 0
    for i, m in enumerate(masks):
        lab, k = ndimage.label(m, structure=np.ones((3, 3), int))
        comp[i] = np.where(lab > 0, lab + total, 0)
        total += k
    return comp, total


def pro_curve(maps, masks, merge=True):
    comp, n_comp = components(masks)
    c = comp.ravel()
    scores = maps.ravel().astype(np.float64)
    normal = c == 0
    sizes = np.bincount(c)
    weight = np.where(normal, 0.0, 1.0 / sizes[c])
    order = np.argsort(-scores, kind="stable")
    s = scores[order]
    ends = np.nonzero(np.append(s[1:] != s[:-1], True))[0]  # last index of each distinct score
    fp = np.cumsum(normal[order])[ends]
    defect = np.cumsum(~normal[order])[ends]
    fpr = np.concatenate([[0.0], fp / normal.sum()])
    pro = np.concatenate([[0.0], np.cumsum(weight[order])[ends] / n_comp])
    thr = np.concatenate([[np.inf], s[ends]])
    if merge:
        # Step kinds: 1 only defect-free pixels, 2 only defect pixels, 3 both. A point inside a run of steps of
        # kind 1 (or of kind 2) lies on a straight line between its neighbours and is dropped.
        kind = np.concatenate([[0], (np.diff(np.concatenate([[0], fp])) > 0) +
                               2 * (np.diff(np.concatenate([[0], defect])) > 0)])
        keep = np.ones(len(fpr), bool)
        keep[:-1] = ~((kind[:-1] == kind[1:]) & (kind[:-1] != 3))
        keep[0] = True
        fpr, pro, thr = fpr[keep], pro[keep], thr[keep]
    return fpr, pro, thr, n_comp


def area(fpr, pro, limit):
    """Trapezoid area up to fpr == limit (end point interpolated), divided by limit."""
    inside = fpr <= limit
    x, y = fpr[inside], pro[inside]
    total = np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(x))
    k = int(inside.sum())
    if x[-1] < limit and k < len(fpr):
        y_end = y[-1] + (pro[k] - y[-1]) * (limit - x[-1]) / (fpr[k] - x[-1])
        total += 0.5 * (y_end + y[-1]) * (limit - x[-1])
    return total / limit


def blob_masks(rng, n, h, w, n_good):
    """Random ellipses, plus in the first image two squares touching only at a corner (one 8-component)."""
    yy, xx = np.mgrid[0:h, 0:w]
    masks = np.zeros((n, h, w), np.uint8)
    for i in range(n_good, n):
        for _ in range(rng.integers(1, 4)):
            cy, cx = rng.uniform(0, h), rng.uniform(0, w)
            ry, rx = rng.uniform(1.5, h / 5), rng.uniform(1.5, w / 5)
            masks[i][((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1] = 1
    first = n_good
    masks[first, 1:4, 1:4] = 1
    masks[first, 4:6, 4:7] = 1  # touches the square above only diagonally at (3,3)-(4,4)
    masks[first, h - 1, w - 1] = 1  # a single-pixel component in the corner
    return masks


def pro_case(rng, n, h, w, n_good, levels):
    masks = blob_masks(rng, n, h, w, n_good)
    noise = ndimage.gaussian_filter(rng.standard_normal((n, h, w)), sigma=(0, 1.5, 1.5))
    maps = np.exp(noise * 2.0 + 1.5 * ndimage.gaussian_filter(masks.astype(float), sigma=(0, 1, 1)))
    maps /= maps.max()
    if levels:
        maps = np.round(maps * levels) / levels  # heavy ties
    maps = maps.astype(np.float32)
    labels = (masks.reshape(n, -1).max(axis=1) > 0).astype(np.uint8)
    # The map maximum plus noise, so that the image AUC is not trivially 1.
    image_scores = (maps.reshape(n, -1).max(axis=1) + rng.normal(0, 0.2, n)).astype(np.float32)
    fpr, pro, thr, n_comp = pro_curve(maps, masks)
    full = pro_curve(maps, masks, merge=False)
    aupro = np.array([area(fpr, pro, t) for t in AUPRO_LIMITS])
    aupro_full = np.array([area(full[0], full[1], t) for t in AUPRO_LIMITS])
    assert np.allclose(aupro, aupro_full, rtol=0, atol=1e-12), (aupro, aupro_full)
    flat_labels = masks.ravel()
    return {
        "maps": maps, "masks": masks, "image_scores": image_scores, "image_labels": labels,
        "expected_pixel_auc": roc_auc_score(flat_labels, maps.ravel().astype(np.float64)),
        "expected_image_auc": roc_auc_score(labels, image_scores.astype(np.float64)),
        "expected_pixel_f1": best_f1(maps.ravel(), flat_labels),
        "expected_image_f1": best_f1(image_scores, labels),
        "expected_n_components": np.int64(n_comp),
        "expected_aupro": aupro, "expected_aupro_limits": AUPRO_LIMITS,
        "expected_curve_fpr": fpr, "expected_curve_pro": pro, "expected_curve_threshold": thr,
    }


def auc_case(scores, labels):
    scores = scores.astype(np.float32)
    labels = labels.astype(np.uint8)
    return {"scores": scores, "labels": labels,
            "expected_auc": roc_auc_score(labels, scores.astype(np.float64)),
            "expected_f1": best_f1(scores, labels)}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "data",
                                                              "metrics_fixture.h5")
    rng = np.random.default_rng(20240611)
    cases = {}
    # Heavy ties: 13 score levels (negative ones included, and -0.0 mixed with +0.0), labels more likely high up.
    level = rng.integers(-4, 9, size=4000)
    ties = (level / 4.0).astype(np.float32)
    ties[(level == 0) & (rng.random(4000) < 0.5)] = np.float32(-0.0)
    cases["auc_ties"] = auc_case(ties, rng.random(4000) < 0.2 + 0.05 * (level + 4))
    # Continuous scores with a class shift, plus exact duplicates.
    labels = rng.random(12000) < 0.1
    cont = rng.standard_normal(12000) + 1.2 * labels
    cont[:1500] = cont[1500:3000]
    cases["auc_cont"] = auc_case(cont, labels)
    cases["pro_ties"] = pro_case(rng, n=6, h=24, w=32, n_good=2, levels=15)
    cases["pro_cont"] = pro_case(rng, n=8, h=32, w=32, n_good=3, levels=0)

    tmp = out + ".tmp"
    with h5py.File(tmp, "w", track_order=False) as f:
        for name in sorted(cases):
            for key in sorted(cases[name]):
                f.create_dataset(f"{name}/{key}", data=cases[name][key], track_times=False)
    os.replace(tmp, out)
    for name in sorted(cases):
        c = cases[name]
        summary = {k: c[k] for k in c if k.startswith("expected") and "curve" not in k}
        if "expected_curve_fpr" in c:
            summary["curve_points"] = len(c["expected_curve_fpr"])
        print(name, summary)
    print("wrote", out, os.path.getsize(out), "bytes")


if __name__ == "__main__":
    main()
