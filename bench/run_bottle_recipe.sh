#!/usr/bin/env bash
# The recipe on MVTec AD bottle, ours beside the PyTorch reference on the same machine: pixel/image ROC-AUC and
# AUPRO after several epoch counts with seed 0, the strict mask rule, the same teacher file.
#   bench/run_bottle_recipe.sh [epochs list, default "1 3 10"] [out dir, default /tmp/stfpm_bottle]
# Ours trains once, stopping at each epoch count to test (--resume continues exactly where it stopped).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
epochs=(${1:-1 3 10})
out=${2:-/tmp/stfpm_bottle}
data=${DATA_DIR:-$here/../shared/data/mvtec_ad}
teacher=${TEACHER:-$here/../shared/weights/resnet18_imagenet.h5}
device=${DEVICE:-cpu}
python=${PYTHON:-/usr/bin/python3}
mkdir -p "$out"
rm -f "$out/ours.jsonl" "$out/torch.jsonl"

resume=()
for e in "${epochs[@]}"; do
  "$here/build/stfpm" train --data_dir "$data" --category bottle --epochs "$e" --seed 0 --device "$device" \
    --teacher "$teacher" --model_dir "$out/models" --results_dir "$out/results" --no_images "${resume[@]}"
  "$python" -c "import json,sys; m=json.load(open(sys.argv[1])); print(json.dumps({k: m.get(k) for k in
    ['epochs','pixel_auroc','image_auroc','pixel_aupro','mask_rule']} | {'s_per_epoch': m['timings'].get('s_per_epoch')}))" \
    "$out/results/bottle/metrics.json" >> "$out/ours.jsonl"
  resume=(--resume)
done
list=$(IFS=,; echo "${epochs[*]}")
"$python" "$here/tools/torch_reference.py" --data_dir "$data" --category bottle --teacher "$teacher" \
  --eval_epochs "$list" --seed 0 --device "$device" --out "$out/torch.jsonl"

"$python" - "$out/ours.jsonl" "$out/torch.jsonl" <<'PY'
import json, sys
ours = [json.loads(l) for l in open(sys.argv[1])]
torch = {r["epochs"]: r for r in map(json.loads, open(sys.argv[2]))}
print(f"{'epochs':>6} | {'pixel AUROC':>19} | {'image AUROC':>19} | {'pixel AUPRO':>19} | s/epoch (ours, torch)")
print(f"{'':>6} | {'ours':>9} {'torch':>9} | {'ours':>9} {'torch':>9} | {'ours':>9} {'torch':>9} |")
for o in ours:
    t = torch.get(o["epochs"], {})
    f = lambda r, k: f"{r[k]:9.4f}" if r.get(k) is not None else f"{'-':>9}"
    print(f"{o['epochs']:>6} | {f(o,'pixel_auroc')} {f(t,'pixel_auroc')} | {f(o,'image_auroc')} {f(t,'image_auroc')} | "
          f"{f(o,'pixel_aupro')} {f(t,'pixel_aupro')} | {o['s_per_epoch']:.1f}, {t.get('s_per_epoch', float('nan')):.1f}")
PY
