"""A stand-in model for benchmarks: the default model's architecture, widened to the compute
of Ultralytics' YOLOv8n at its default 640×640 (8.7 GFLOPs), with random weights.

    /usr/bin/python3 ml/benchmark_model.py /tmp/yolov8n-size.onnx
    MODEL_PATH=/tmp/yolov8n-size.onnx npm run bench:inference

The service's own work per photo (decode, letterbox, NMS) does not depend on the model, so
its cost relative to inference does: the default model needs 6.2 GFLOPs at 480×640 (the
one before it 2.7), less than a YOLOv8n. This file answers "what ratio would a typical
trained model see here" without downloading one. Its detections are meaningless; never serve it.
"""
import os
import sys

import torch

import train

WIDTHS = (24, 48, 96, 192, 384)
DEFAULT_MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'models', 'toolcontrol-yolo.onnx')
SIZE = (480, 640)


def gflops(model, size):
    """2 × multiply-adds of every convolution (the way Ultralytics reports GFLOPs)."""
    total = [0.0]

    def count(m, _inputs, out):
        total[0] += 2 * m.in_channels * m.out_channels * m.kernel_size[0] * m.kernel_size[1] * out.shape[2] * out.shape[3] / m.groups

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        model(torch.zeros(1, 3, *size))
    for h in hooks:
        h.remove()
    return total[0] / 1e9


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    torch.manual_seed(0)
    default = train.Detector(w=train.onnx_widths(DEFAULT_MODEL)).eval()
    model = train.Detector(w=WIDTHS).eval()
    print(f'default model: {sum(p.numel() for p in default.parameters()) / 1e6:.2f} M parameters, {gflops(default, SIZE):.2f} GFLOPs at {SIZE[0]}×{SIZE[1]}')
    print(f'stand-in:      {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, {gflops(model, SIZE):.2f} GFLOPs at {SIZE[0]}×{SIZE[1]} (YOLOv8n: 3.2 M, 8.7 GFLOPs at 640×640)')
    train.export_onnx(model, SIZE, argv[1], {'version': '0.0.0', 'description': 'benchmark stand-in with random weights: its detections are meaningless'})
    print(f'exported {argv[1]}')


if __name__ == '__main__':
    main(sys.argv)
