"""PyTorch's side of `stfpm test`, for bench/run_test_bench.sh: the PyTorch reference recipe's test phase
(tools/torch_reference.py: the MVTec test split decoded, resized and normalized with torchvision, the masks
resized the same way, both trunks under no_grad a batch at a time, then scikit-learn's pixel and image ROC-AUC and
the AUPRO oracle over all the maps), with a random student (neither speed nor memory depends on its weights).

Prints one JSON line: images, batch, seconds from the first decode to the metrics (no import or model
construction) and the three metrics. Peak memory is measured from outside (/usr/bin/time).
  /usr/bin/python3 tools/torch_test_peer.py --data_dir DIR --category NAME --teacher FILE [--batch 8]
                                            [--size 256] [--threads 2]
"""

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_reference  # noqa: E402
import torch_stfpm  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data_dir", required=True)
    ap.add_argument("--category", required=True)
    ap.add_argument("--teacher", required=True)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    teacher = torch_stfpm.load_teacher(args.teacher).eval()
    student = torch_stfpm.Trunk().eval()
    start = time.perf_counter()
    images, masks, labels = torch_reference.load_split(args.data_dir, args.category, "test", args.size)
    metrics = torch_reference.evaluate(teacher, student, images, masks, labels, "strict255", "cpu", args.batch)
    seconds = time.perf_counter() - start
    print(json.dumps({"impl": f"pytorch {torch.__version__}", "images": len(images), "batch": args.batch,
                      "threads": args.threads, "seconds": round(seconds, 4),
                      **{k: round(float(v), 4) for k, v in metrics.items()}}))


if __name__ == "__main__":
    main()
