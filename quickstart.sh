#!/usr/bin/env bash
# Sets up, builds and runs the main job: train the student for a few epochs on an MVTec AD category, then test it
# (metrics, per-image scores, heatmap result images in results/<category>/).
#   ./quickstart.sh [DATA_DIR CATEGORY] [EPOCHS]
# Defaults: ../shared/data/mvtec_ad bottle when present (10 epochs, about 2.5 minutes on 2 CPU cores; the recipe's
# 100 epochs take about 30), otherwise the project's synthetic dataset written to data/ (3 epochs, seconds).
set -euo pipefail
cd "$(dirname "$0")"
tools/setup.sh
tools/build.sh

data_dir=${1:-}
category=${2:-}
epochs=${3:-}
extra=()
if [ -z "$data_dir" ]; then
  if [ -d ../shared/data/mvtec_ad/bottle ]; then
    data_dir=../shared/data/mvtec_ad category=bottle epochs=${epochs:-10}
  else
    echo "quickstart: no MVTec data in ../shared: using the synthetic dataset in data/"
    build/stfpm synth --data_dir data
    data_dir=data category=synthetic epochs=${epochs:-3} extra=(--size 128)
  fi
fi
echo "quickstart: training $category for ${epochs:-10} epochs, then testing"
build/stfpm train --data_dir "$data_dir" --category "$category" --epochs "${epochs:-10}" "${extra[@]}"
