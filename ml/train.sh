#!/bin/sh
# Reproduce the default model from nothing: render the scenes, train in stages (1–3 with
# IoU targets, 4a–4b task-aligned, 6a–6b wider, 7 more scenes), export, verify the export against torch.
#   sh ml/train.sh        (8–9 hours on 2 CPU cores; see models/MODEL_CARD.md)
set -eu
cd "$(dirname "$0")/.."
# glibc returns torch's large freed buffers to the kernel and maps them again on the next
# step; the page faults took half the CPU time. Keeping them mapped trains 2.3× faster here
# (5.5 → 12.8 images/s at 480×640, batch 16).
export MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=68719476736 MALLOC_TOP_PAD_=536870912
rm -rf ml/data/train
npm run synth -- --out ml/data/train --count 1800 --seed 1000000 --kit full --val 0.05
npm run synth -- --out ml/data/train --count 2200 --seed 2000000 --kit random --val 0.05
# Stage 1 at 320×320 (fast), stage 2 at 384×512, stage 3 at 480×640: the scenes' own
# size, so the screwdriver tips keep every pixel. BatchNorm statistics stay fixed from stage 3.
# Stages 1–3 train the class scores towards each anchor's IoU; stage 4 switches to
# task-aligned targets (4a, then a restart at a lower rate, 4b), which stops half-fitting
# boxes being counted as a second tool.
/usr/bin/python3 ml/train.py --data ml/data/train --out ml/runs/train --epochs 15 --imgsz 320 --target iou \
  --export ml/runs/train/stage1.onnx
/usr/bin/python3 ml/train.py --data ml/data/train --out ml/runs/train2 --init ml/runs/train/last.pt --target iou \
  --imgsz 384,512 --epochs 10 --lr 1e-3 --export ml/runs/train2/stage2.onnx
/usr/bin/python3 ml/train.py --data ml/data/train --out ml/runs/train3 --init ml/runs/train2/last.pt --freeze-bn --target iou \
  --imgsz 480,640 --epochs 18 --lr 1e-3 --export ml/runs/train3/stage3.onnx
/usr/bin/python3 ml/train.py --data ml/data/train --out ml/runs/train4 --init ml/runs/train3/last.pt --freeze-bn --target tal \
  --imgsz 480,640 --epochs 7 --lr 6e-4 --export ml/runs/train4/stage4a.onnx
/usr/bin/python3 ml/train.py --data ml/data/train --out ml/runs/train5 --init ml/runs/train4/last.pt --freeze-bn --target tal \
  --imgsz 480,640 --epochs 3 --lr 3e-4 --export ml/runs/train5/stage4b.onnx
# Stage 6: a wider network (24,48,96,144,224: 2.5 M parameters, 2.3× the compute) grown from
# stage 4b (Net2WiderNet), on more scenes: 2,000 more, then 1,500 kits with 0–2 tools taken out,
# whose empty cut-outs the model must not count as tools.
npm run synth -- --out ml/data/train --count 1000 --seed 1001800 --kit full --val 0.05
npm run synth -- --out ml/data/train --count 1000 --seed 2002200 --kit random --val 0.05
/usr/bin/python3 ml/train.py --data ml/data/train --out ml/runs/train6 --init ml/runs/train5/last.pt --freeze-bn --target tal \
  --widths 24,48,96,144,224 --imgsz 480,640 --epochs 2 --lr 5e-4 --export ml/runs/train6/stage6a.onnx
npm run synth -- --out ml/data/train --count 1500 --seed 1100000 --kit full --missing 2 --val 0.05
/usr/bin/python3 ml/train.py --data ml/data/train --out ml/runs/train7 --init ml/runs/train6/last.pt --freeze-bn --target tal \
  --imgsz 480,640 --epochs 7 --lr 4e-4 --export ml/runs/train7/stage6b.onnx
# Stage 7: 5,000 new scenes (2,000 kits with 0–2 tools taken out, 3,000 random piles, which
# the model gets wrong most), 7 more epochs from stage 6b at a lower rate.
npm run synth -- --out ml/data/train7 --count 2000 --seed 1400000 --kit full --missing 2 --val 0.05
npm run synth -- --out ml/data/train7 --count 3000 --seed 2400000 --kit random --val 0.05
/usr/bin/python3 ml/train.py --data ml/data/train7 --out ml/runs/train8 --init ml/runs/train7/last.pt --freeze-bn --target tal \
  --imgsz 480,640 --epochs 7 --lr 2e-4 --export models/toolcontrol-yolo.onnx
npx tsx scripts/verify-export.ts models/toolcontrol-yolo.onnx
