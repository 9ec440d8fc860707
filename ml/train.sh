#!/bin/sh
# Reproduce the default model from nothing: render the scenes, train, export, verify.
#   sh ml/train.sh            (about 80 minutes on 2 CPU cores; see models/MODEL_CARD.md)
set -eu
cd "$(dirname "$0")/.."
rm -rf ml/data/train
npm run synth -- --out ml/data/train --count 1400 --seed 1000000 --kit full --val 0.06
npm run synth -- --out ml/data/train --count 1700 --seed 2000000 --kit random --val 0.06
# Stage 1 at 320×320 (fast), stage 2 at 384×512 (the scenes' 4:3 shape: thin tools keep more pixels).
/usr/bin/python3 ml/train.py --data ml/data/train --out ml/runs/train --epochs 15 --imgsz 320
/usr/bin/python3 ml/train.py --data ml/data/train --out ml/runs/train2 --init ml/runs/train/last.pt \
  --imgsz 384,512 --epochs 10 --lr 1e-3
npx tsx scripts/verify-export.ts models/toolcontrol-yolo.onnx
