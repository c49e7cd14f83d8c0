"""PyTorch's side of `stfpm predict`, for bench/run_predict_bench.sh: the same work on the same images (decode,
resize to --size with PIL's bilinear filter, ImageNet normalization, teacher and student forward in eval mode
under no_grad, the anomaly map, one score per image), a batch at a time, streamed like ours.

Prints one JSON line: images, batch, seconds from the first decode to the last score (no import or model
construction: in PyTorch's favour) and images_per_s. Peak memory is measured from outside (/usr/bin/time).
  /usr/bin/python3 tools/torch_predict_peer.py --images LIST [--batch 8] [--size 256] [--threads 2]
                                               [--teacher FILE] [--scores CSV]
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_stfpm  # noqa: E402

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def load(path, size):
    with Image.open(path) as im:
        rgb = im.convert("RGB").resize((size, size), Image.BILINEAR)
    a = (np.asarray(rgb, dtype=np.float32) / 255.0 - MEAN) / STD
    return torch.from_numpy(a.transpose(2, 0, 1).copy())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", required=True, help="a text file listing image paths, one per line")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--teacher", help="HDF5 teacher (default: random weights; speed does not depend on them)")
    ap.add_argument("--scores", help="also write path,score lines here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with open(args.images) as f:
        paths = [line.strip() for line in f if line.strip()]
    teacher = torch_stfpm.load_teacher(args.teacher) if args.teacher else torch_stfpm.Trunk().eval()
    student = torch_stfpm.Trunk().eval()
    scores = []
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(paths), args.batch):
            x = torch.stack([load(p, args.size) for p in paths[i:i + args.batch]])
            combined, _ = torch_stfpm.anomaly_maps(teacher(x), student(x), (args.size, args.size))
            scores.extend(combined.reshape(len(combined), -1).max(axis=1).tolist())
    seconds = time.perf_counter() - start
    if args.scores:
        with open(args.scores, "w") as f:
            f.writelines(f"{p},{s}\n" for p, s in zip(paths, scores))
    print(json.dumps({"impl": f"pytorch {torch.__version__}", "images": len(paths), "batch": args.batch,
                      "threads": args.threads, "seconds": round(seconds, 4),
                      "images_per_s": round(len(paths) / seconds, 2)}))


if __name__ == "__main__":
    main()
