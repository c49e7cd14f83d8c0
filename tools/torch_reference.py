#!/usr/bin/python3
"""The PyTorch reference recipe of STFPM on one MVTec AD category, for side-by-side figures with stfpm: the same
teacher file, the same data pipeline (PIL convert('RGB'), torchvision Resize((256, 256)) bilinear, ToTensor,
Normalize), the same recipe (SGD lr 0.4, momentum 0.9, weight decay 1e-4, batch 32 reshuffled each epoch with the
last partial batch, loss summed over the batch), the same evaluation (strict mask rule by default: after the
bilinear resize only 255 is a defect), with scikit-learn's roc_auc_score and the project's numpy AUPRO oracle.

  /usr/bin/python3 tools/torch_reference.py --data_dir ../shared/data/mvtec_ad --category bottle \
      --teacher ../shared/weights/resnet18_imagenet.h5 --eval_epochs 1,3,10 [--seed 0] [--threads 2] \
      [--mask_rule strict255|ge128] [--device cpu|cuda] [--out results_torch.jsonl]

Prints (and appends to --out) one JSON line per evaluated epoch: pixel_auroc, image_auroc, pixel_aupro, the
seconds per epoch so far, and the configuration.
"""

import argparse
import glob
import json
import os
import sys
import time

import numpy as np
import torch
from PIL import Image
from sklearn.metrics import roc_auc_score
from torchvision import transforms

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_stfpm  # noqa: E402
from make_metrics_fixtures import area, pro_curve  # noqa: E402  (the AUPRO oracle)

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tga")


def images_in(folder):
    return sorted(p for p in glob.glob(os.path.join(folder, "*")) if p.lower().endswith(EXTENSIONS))


def load_split(root, category, split, size):
    image_tf = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor(),
                                   transforms.Normalize(MEAN, STD)])
    mask_tf = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor()])
    base = os.path.join(root, category)
    if split == "train":
        paths = images_in(os.path.join(base, "train", "good"))
        return torch.stack([image_tf(Image.open(p).convert("RGB")) for p in paths]), None, None
    images, masks, labels = [], [], []
    for defect in sorted(os.listdir(os.path.join(base, "test"))):
        for p in images_in(os.path.join(base, "test", defect)):
            images.append(image_tf(Image.open(p).convert("RGB")))
            if defect == "good":
                masks.append(torch.zeros(1, size, size))
                labels.append(0)
            else:
                stem = os.path.splitext(os.path.basename(p))[0]
                masks.append(mask_tf(Image.open(os.path.join(base, "ground_truth", defect, stem + "_mask.png"))))
                labels.append(1)
    return torch.stack(images), torch.stack(masks)[:, 0].numpy(), np.array(labels, dtype=np.uint8)


def evaluate(teacher, student, images, masks, labels, rule, device, batch=32):
    student.eval()
    maps = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = images[i:i + batch].to(device)
            combined, _ = torch_stfpm.anomaly_maps(teacher(x), student(x), images.shape[-1])
            maps.append(combined)
    student.train()
    maps = np.concatenate(maps)
    gray = np.rint(masks * 255.0)  # ToTensor divided the 8-bit mask by 255
    masks01 = (gray == 255) if rule == "strict255" else (gray >= 128)
    scores = maps.reshape(len(maps), -1).max(axis=1)
    fpr, pro, _, _ = pro_curve(maps, masks01.astype(np.uint8))
    return {"pixel_auroc": roc_auc_score(masks01.ravel(), maps.ravel()),
            "image_auroc": roc_auc_score(labels, scores),
            "pixel_aupro": area(fpr, pro, 0.3)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data_dir", required=True)
    ap.add_argument("--category", required=True)
    ap.add_argument("--teacher", required=True)
    ap.add_argument("--eval_epochs", default="1,3,10")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch_size", type=int, default=32)
    ap.add_argument("--mask_rule", default="strict255", choices=["strict255", "ge128"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    eval_epochs = sorted(int(e) for e in args.eval_epochs.split(","))
    train_x, _, _ = load_split(args.data_dir, args.category, "train", args.size)
    test_x, test_masks, test_labels = load_split(args.data_dir, args.category, "test", args.size)
    teacher = torch_stfpm.load_teacher(args.teacher).to(device)
    student = torch_stfpm.Trunk().to(device).train()
    optimizer = torch_stfpm.make_optimizer(student)
    generator = torch.Generator().manual_seed(args.seed)

    train_seconds = 0.0
    for epoch in range(1, eval_epochs[-1] + 1):
        start = time.perf_counter()
        order = torch.randperm(len(train_x), generator=generator)
        total = 0.0
        for i in range(0, len(order), args.batch_size):
            total += torch_stfpm.train_step(teacher, student, optimizer, train_x[order[i:i + args.batch_size]].to(device))
        train_seconds += time.perf_counter() - start
        print(f"epoch {epoch}: loss/img {total / len(train_x):.4f}", file=sys.stderr)
        if epoch in eval_epochs:
            result = {"impl": "pytorch " + torch.__version__, "category": args.category, "epochs": epoch,
                      "seed": args.seed, "mask_rule": args.mask_rule, "device": args.device,
                      "threads": args.threads, "s_per_epoch": round(train_seconds / epoch, 3)}
            result.update(evaluate(teacher, student, test_x, test_masks, test_labels, args.mask_rule, device))
            line = json.dumps(result)
            print(line, flush=True)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(line + "\n")


if __name__ == "__main__":
    main()
