#!/usr/bin/python3
"""PyTorch peer of bench/bench_train_step: the same STFPM training step (teacher forward in eval mode, student
forward + backward in train mode, loss, SGD) on random inputs, or with --pass infer the inference step (upload,
teacher and student forward in eval mode under no_grad, the combined anomaly map, back to the host). Prints one
JSON line like the C++ benchmark.

  /usr/bin/python3 tools/bench_torch_step.py [--pass train|infer] [--device cpu|cuda] [--batch 32] [--size 256]
                                             [--iters 5] [--warmup 1] [--threads 2] [--teacher FILE]
"""

import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_stfpm  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pass", dest="pass_", choices=("train", "infer"), default="train")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--teacher", help="HDF5 teacher (default: random weights; speed does not depend on them)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    if device.type == "cuda":
        # The reference recipe in strict FP32, like our default.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
    teacher = torch_stfpm.load_teacher(args.teacher) if args.teacher else torch_stfpm.Trunk().eval()
    teacher = teacher.to(device)
    student = torch_stfpm.Trunk().to(device)
    student.train(args.pass_ == "train")
    optimizer = torch_stfpm.make_optimizer(student)
    x = torch.randn(args.batch, 3, args.size, args.size, device=device)
    host = x.cpu()

    def infer_step():
        with torch.no_grad():
            xd = host.to(device)
            t, s = teacher(xd), student(xd)
            levels = []
            for a, b in zip(t, s):
                d = 0.5 * ((F.normalize(a, dim=1) - F.normalize(b, dim=1)) ** 2).sum(dim=1, keepdim=True)
                levels.append(F.interpolate(d, size=(args.size, args.size), mode="bilinear", align_corners=False))
            combined = levels[0] * levels[1] * levels[2]
            return combined.cpu()

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    seconds = []
    for i in range(args.warmup + args.iters):
        sync()
        start = time.perf_counter()
        if args.pass_ == "train":
            torch_stfpm.train_step(teacher, student, optimizer, x)
        else:
            infer_step()
        sync()
        s = time.perf_counter() - start
        print(f"  step {i}: {s:.3f} s", file=sys.stderr)
        if i >= args.warmup:
            seconds.append(s)
    seconds.sort()
    median = seconds[len(seconds) // 2]
    print(json.dumps({"impl": "pytorch " + torch.__version__, "pass": args.pass_, "device": args.device,
                      "batch": args.batch,
                      "size": args.size, "iters": args.iters, "threads": args.threads,
                      "median_s": round(median, 5), "images_per_s": round(args.batch / median, 2)}))


if __name__ == "__main__":
    main()
