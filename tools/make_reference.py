#!/usr/bin/python3
"""Writes the PyTorch fixtures the C++ parity tests compare against (needs Debian python3-torch, -torchvision,
-h5py, -numpy, -pil; run with /usr/bin/python3).

  tests/data/resnet18_reference.h5     CPU trunk vs PyTorch: features, loss, gradients, two SGD steps, anomaly map
  tests/data/bottle_teacher_features.h5  the real teacher's features for one MVTec bottle image (needs ../shared)

Usage: /usr/bin/python3 tools/make_reference.py [--which all|reference|bottle] [--out-dir tests/data]
                                               [--shared ../shared]

resnet18_reference.h5 (float32 unless noted; every <name> is a torchvision state_dict key of the trunk):
  No parameters are stored: teacher (seed 1), student (seed 2) and input (seed 3) come from the generator in
  tools/fixture_params.py / tests/fixture_params.cpp. The student's running_mean/running_var are NOT generated:
  they start at torchvision's 0 and 1.
  root attrs   batch=2, height=64, width=64 (int64); lr=0.4, momentum=0.9, weight_decay=1e-4, bn_momentum=0.1,
               bn_eps=1e-5 (float64); teacher_seed=1, student_seed=2, input_seed=3, sample_threshold=4096,
               sample_count=1024 (int64); torch_version, generator (text); tensor_names (the 75 trunk names,
               comma-separated, state_dict order). Text attributes are fixed-length ASCII, NUL included.
  alphas                   (3,)           level weights, all 1
  input                    (2,3,64,64)    = fixture_values("input", shape, 3)
  probe_shape/<name>       (rank,) int64  the tensor's shape
  probe_index/<name>       (k,) int64     sorted flat indices: 0, 1, 2, n/3, n/2, 2n/3, n-2, n-1, 1000003 mod n
  probe/teacher/<name>     (k,)           generator values (seed 1) at probe_index/<name>
  probe/student/<name>     (k,)           generator values (seed 2) at probe_index/<name>, for all 75 tensors
                                          (also running statistics, which the student does not use)
  step1/teacher/layerL     full features of the first forward, L = 1, 2, 3: (2,64,16,16), (2,128,8,8), (2,256,4,4)
  step1/student/layerL     same, student in train mode
  step1/loss               (1,)  sum over levels of sum_{b,c,h,w} (t^ - s^)^2 / (2*h*w), t^ = F.normalize(t, dim=1)
  step1/loss_levels        (3,)  the three terms
  sample/<name>            (1024,) int64  sorted distinct flat indices, only for parameters with > 4096 elements
                                          (the 15 conv weights)
  step1/grad/<name>        gradient of every student parameter (conv weights, bn weights and biases) after the
                           first backward: full, or the values at sample/<name> when sampled
  step1/grad_norm/<name>   (1,) float64  L2 norm of the full gradient, sampled parameters only
  step2/loss               (1,)  loss of the second step, before its update
  step2/param/<name>       every student parameter after the second SGD step (full, or at sample/<name>)
  step2/param_norm/<name>  (1,) float64  L2 norm of the full parameter, sampled parameters only
  step2/buffer/<name>      (C,)  every student running_mean/running_var after the two train-mode forwards
  anomaly/level_maps       (3,2,64,64)  after step 2, student and teacher in eval mode: per level
                           0.5 * sum_c (t^ - s^)^2, bilinear (align_corners=False) to 64x64
  anomaly/map              (2,64,64)    product of the three level maps
Training: torch.optim.SGD(student trunk parameters, lr=0.4, momentum=0.9, weight_decay=1e-4); two steps on the same
input, each: zero_grad, teacher forward (eval, no_grad), student forward (train), loss, backward, step.

bottle_teacher_features.h5: the shared teacher weights/resnet18_imagenet.h5 in torchvision resnet18 (eval) on
data/mvtec_ad_256/bottle/test/broken_large/000.png (RGB, /255, ImageNet mean/std, already 256x256):
  layer3 (1,256,16,16) float32; layer1_norm, layer2_norm (1,) float64: L2 norms of layer1 (1,64,64,64) and layer2
  (1,128,32,32); attrs image (path relative to the shared folder), image_sha256, weights, torch_version.
  The image itself is not stored (MVTec AD may not be redistributed).
"""

import argparse
import hashlib
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image

from fixture_params import fixture_values, values_at

TRUNK = ("conv1", "bn1", "layer1", "layer2", "layer3")
BATCH, HEIGHT, WIDTH = 2, 64, 64
TEACHER_SEED, STUDENT_SEED, INPUT_SEED = 1, 2, 3
LR, MOMENTUM, WEIGHT_DECAY = 0.4, 0.9, 1e-4
BN_MOMENTUM, BN_EPS = 0.1, 1e-5
SAMPLE_THRESHOLD, SAMPLE_COUNT, SAMPLE_RNG_SEED = 4096, 1024, 20210308
BOTTLE_IMAGE = "data/mvtec_ad_256/bottle/test/broken_large/000.png"
BOTTLE_WEIGHTS = "weights/resnet18_imagenet.h5"
GENERATOR_TEXT = ("counter-based splitmix64/fnv1a64 generator of tools/fixture_params.py and "
                  "tests/fixture_params.cpp: teacher seed 1, student seed 2 (running stats 0/1), input seed 3")


def trunk_names(model):
    names = [n for n in model.state_dict()
             if n.split(".")[0] in TRUNK and not n.endswith("num_batches_tracked")]
    assert len(names) == 75, f"expected 75 trunk tensors, got {len(names)}"
    return names


def trunk_forward(model, x):
    x = model.maxpool(model.relu(model.bn1(model.conv1(x))))
    l1 = model.layer1(x)
    l2 = model.layer2(l1)
    return [l1, l2, model.layer3(l2)]


def probe_indices(numel):
    idx = {0, 1, 2, numel // 3, numel // 2, (2 * numel) // 3, numel - 2, numel - 1, 1000003 % numel}
    return np.array(sorted(i for i in idx if 0 <= i < numel), dtype=np.int64)


def fill_from_generator(model, names, seed, skip_running_stats):
    state = model.state_dict()
    with torch.no_grad():
        for name in names:
            if skip_running_stats and name.endswith(("running_mean", "running_var")):
                continue
            t = state[name]
            t.copy_(torch.from_numpy(fixture_values(name, tuple(t.shape), seed)))


def level_losses(teacher_feats, student_feats):
    out = []
    for t, s in zip(teacher_feats, student_feats):
        h, w = t.shape[2], t.shape[3]
        out.append(((F.normalize(t, dim=1) - F.normalize(s, dim=1)) ** 2).sum() / (2 * h * w))
    return out


def text(s):
    """A fixed-length ASCII string attribute with a terminating NUL inside its size. h5py writes str as
    variable-length UTF-8, which HDF5 will not convert for a C reader that asks for ASCII, and a reader that asks
    for a NUL-terminated string of the stored size would otherwise lose the last character."""
    return np.array(s.encode("ascii"), dtype=f"S{len(s) + 1}")


def f32(t):
    return np.ascontiguousarray(t.detach().numpy(), dtype=np.float32)


def write_atomically(path, fill):
    tmp = path + ".tmp"
    try:
        with h5py.File(tmp, "w") as f:
            fill(f)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    print(f"wrote {path}: {os.path.getsize(path):,} bytes")


def make_reference(path):
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    teacher = torchvision.models.resnet18(weights=None)
    student = torchvision.models.resnet18(weights=None)
    names = trunk_names(teacher)
    shapes = {n: tuple(teacher.state_dict()[n].shape) for n in names}
    fill_from_generator(teacher, names, TEACHER_SEED, skip_running_stats=False)
    fill_from_generator(student, names, STUDENT_SEED, skip_running_stats=True)
    teacher.eval()
    student.train()
    for p in teacher.parameters():
        p.requires_grad_(False)

    x = torch.from_numpy(fixture_values("input", (BATCH, 3, HEIGHT, WIDTH), INPUT_SEED))
    student_params = dict(student.named_parameters())
    param_names = [n for n in names if n in student_params]
    optimizer = torch.optim.SGD([student_params[n] for n in param_names], lr=LR, momentum=MOMENTUM,
                                weight_decay=WEIGHT_DECAY)

    rng = np.random.default_rng(SAMPLE_RNG_SEED)
    samples = {n: np.sort(rng.choice(int(np.prod(shapes[n])), SAMPLE_COUNT, replace=False)).astype(np.int64)
               for n in param_names if int(np.prod(shapes[n])) > SAMPLE_THRESHOLD}

    def step():
        optimizer.zero_grad()
        with torch.no_grad():
            t_feats = trunk_forward(teacher, x)
        s_feats = trunk_forward(student, x)
        levels = level_losses(t_feats, s_feats)
        loss = levels[0] + levels[1] + levels[2]
        loss.backward()
        result = (t_feats, [s.detach().clone() for s in s_feats], loss.item(), [v.item() for v in levels],
                  {n: student_params[n].grad.detach().clone() for n in param_names})
        optimizer.step()
        return result

    t1, s1, loss1, levels1, grads1 = step()
    _, _, loss2, _, _ = step()

    student.eval()
    with torch.no_grad():
        level_maps = []
        for t, s in zip(trunk_forward(teacher, x), trunk_forward(student, x)):
            d = 0.5 * ((F.normalize(t, dim=1) - F.normalize(s, dim=1)) ** 2).sum(dim=1, keepdim=True)
            level_maps.append(F.interpolate(d, size=(HEIGHT, WIDTH), mode="bilinear", align_corners=False)[:, 0])
        anomaly = level_maps[0] * level_maps[1] * level_maps[2]

    student_state = student.state_dict()

    def fill(f):
        attrs = dict(batch=BATCH, height=HEIGHT, width=WIDTH, teacher_seed=TEACHER_SEED, student_seed=STUDENT_SEED,
                     input_seed=INPUT_SEED, sample_threshold=SAMPLE_THRESHOLD, sample_count=SAMPLE_COUNT)
        for k, v in attrs.items():
            f.attrs[k] = np.int64(v)
        for k, v in dict(lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY, bn_momentum=BN_MOMENTUM,
                         bn_eps=BN_EPS).items():
            f.attrs[k] = np.float64(v)
        f.attrs["torch_version"] = text(str(torch.__version__))
        f.attrs["generator"] = text(GENERATOR_TEXT)
        f.attrs["tensor_names"] = text(",".join(names))
        f["alphas"] = np.ones(3, dtype=np.float32)
        f["input"] = f32(x)
        for n in names:
            idx = probe_indices(int(np.prod(shapes[n])))
            f[f"probe_shape/{n}"] = np.array(shapes[n], dtype=np.int64)
            f[f"probe_index/{n}"] = idx
            f[f"probe/teacher/{n}"] = values_at(n, shapes[n], TEACHER_SEED, idx.astype(np.uint64))
            f[f"probe/student/{n}"] = values_at(n, shapes[n], STUDENT_SEED, idx.astype(np.uint64))
        for level in range(3):
            f[f"step1/teacher/layer{level + 1}"] = f32(t1[level])
            f[f"step1/student/layer{level + 1}"] = f32(s1[level])
        f["step1/loss"] = np.array([loss1], dtype=np.float32)
        f["step1/loss_levels"] = np.array(levels1, dtype=np.float32)
        f["step2/loss"] = np.array([loss2], dtype=np.float32)
        for n in param_names:
            grad, param = f32(grads1[n]).ravel(), f32(student_params[n]).ravel()
            if n in samples:
                f[f"sample/{n}"] = samples[n]
                f[f"step1/grad/{n}"] = grad[samples[n]]
                f[f"step1/grad_norm/{n}"] = np.array([np.linalg.norm(grad.astype(np.float64))])
                f[f"step2/param/{n}"] = param[samples[n]]
                f[f"step2/param_norm/{n}"] = np.array([np.linalg.norm(param.astype(np.float64))])
            else:
                f[f"step1/grad/{n}"] = grad.reshape(shapes[n])
                f[f"step2/param/{n}"] = param.reshape(shapes[n])
        for n in names:
            if n not in student_params:
                f[f"step2/buffer/{n}"] = f32(student_state[n])
        f["anomaly/level_maps"] = np.stack([f32(m) for m in level_maps])
        f["anomaly/map"] = f32(anomaly)

    write_atomically(path, fill)
    print(f"  step1 loss {loss1:.6g} (levels {', '.join(f'{v:.6g}' for v in levels1)}), step2 loss {loss2:.6g}")


def make_bottle(path, shared):
    weights_path = os.path.join(shared, BOTTLE_WEIGHTS)
    image_path = os.path.join(shared, BOTTLE_IMAGE)
    torch.set_num_threads(1)
    model = torchvision.models.resnet18(weights=None)
    with h5py.File(weights_path, "r") as w:
        state = {k: torch.from_numpy(w[k][()]) for k in w}
    result = model.load_state_dict(state, strict=False)
    stray = [k for k in result.missing_keys if k.split(".")[0] in TRUNK and not k.endswith("num_batches_tracked")]
    if stray or result.unexpected_keys:
        sys.exit(f"{weights_path}: missing {stray}, unexpected {result.unexpected_keys}")
    model.eval()

    with open(image_path, "rb") as fh:
        image_sha = hashlib.sha256(fh.read()).hexdigest()
    image = Image.open(image_path).convert("RGB")
    if image.size != (256, 256):
        sys.exit(f"{image_path}: expected a 256x256 image, got {image.size}")
    transform = torchvision.transforms.Compose([
        torchvision.transforms.ToTensor(),
        torchvision.transforms.Normalize(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))])
    x = transform(image).unsqueeze(0)
    with torch.no_grad():
        l1, l2, l3 = trunk_forward(model, x)

    def fill(f):
        f.attrs["image"] = text(BOTTLE_IMAGE)
        f.attrs["image_sha256"] = text(image_sha)
        f.attrs["weights"] = text(BOTTLE_WEIGHTS)
        f.attrs["torch_version"] = text(str(torch.__version__))
        f["layer3"] = np.ascontiguousarray(l3.numpy(), dtype=np.float32)
        f["layer1_norm"] = np.array([torch.linalg.norm(l1.double()).item()])
        f["layer2_norm"] = np.array([torch.linalg.norm(l2.double()).item()])

    write_atomically(path, fill)
    print(f"  layer1 norm {torch.linalg.norm(l1.double()).item():.6g}, "
          f"layer2 norm {torch.linalg.norm(l2.double()).item():.6g}, layer3 max {l3.max().item():.6g}")


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description="Write the PyTorch fixtures for the C++ parity tests.")
    parser.add_argument("--which", choices=("all", "reference", "bottle"), default="all",
                        help="reference: resnet18_reference.h5; bottle: bottle_teacher_features.h5 (default: all)")
    parser.add_argument("--out-dir", default=os.path.join(root, "tests", "data"), help="default: tests/data")
    parser.add_argument("--shared", default=os.environ.get("STFPM_SHARED", os.path.join(root, "..", "shared")),
                        help="the shared data folder (default: $STFPM_SHARED or ../shared)")
    args = parser.parse_args()
    if not os.path.isdir(args.out_dir):
        sys.exit(f"make_reference.py: output folder {args.out_dir} does not exist")
    if args.which in ("all", "reference"):
        make_reference(os.path.join(args.out_dir, "resnet18_reference.h5"))
    if args.which in ("all", "bottle"):
        needed = [os.path.join(args.shared, p) for p in (BOTTLE_WEIGHTS, BOTTLE_IMAGE)]
        missing = [p for p in needed if not os.path.exists(p)]
        if missing:
            print(f"skipping bottle_teacher_features.h5: {', '.join(missing)} not found")
        else:
            make_bottle(os.path.join(args.out_dir, "bottle_teacher_features.h5"), args.shared)


if __name__ == "__main__":
    main()
