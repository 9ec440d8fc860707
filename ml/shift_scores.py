"""Add a constant to every class logit of a model train.py exported, and export it again.

    /usr/bin/python3 ml/shift_scores.py IN.onnx OUT.onnx SHIFT

SHIFT comes from `npm run calibrate:model` (validation scenes): it moves the confidence
with the best kit verdicts onto the service's default (0.5). The constant goes into the
bias of each level's last class convolution, so every score becomes
sigmoid(logit + SHIFT): the order of the detections, and so NMS and AP, do not change.
The metadata is kept (date refreshed), with `score_shift` added; the torch reference
probe for scripts/verify-export.ts is written beside OUT as export_onnx always does.
"""
import ast
import sys

import onnx
import torch

import train


def main(argv):
    if len(argv) != 4:
        sys.exit(__doc__)
    src, out, shift = argv[1], argv[2], float(argv[3])
    torch.set_num_threads(2)
    props = {p.key: p.value for p in onnx.load(src).metadata_props}
    size = tuple(ast.literal_eval(props['imgsz']))
    model = train.Detector(w=train.onnx_widths(src))
    train.load_onnx_weights(model, src)
    model.eval()
    with torch.no_grad():
        for head in model.heads:
            head.cls[-1].bias.add_(shift)
    before = float(ast.literal_eval(props.get('score_shift', '0')))
    meta = {'version': props.get('version', '1.0.0'), 'description': props.get('description', '')}
    train.export_onnx(model, size, out, meta)
    # export_onnx writes its standard metadata; keep the keys it does not know about.
    exported = onnx.load(out)
    new = {p.key: p.value for p in exported.metadata_props}
    for key, value in props.items():
        if key not in new:
            new[key] = value
    new['score_shift'] = repr(round(before + shift, 4))
    from set_metadata import replace_metadata
    replace_metadata(exported, new)
    onnx.checker.check_model(exported)
    onnx.save(exported, out)
    print(f'{out}: class logits shifted by {shift:+.4f} (score_shift {new["score_shift"]})')


if __name__ == '__main__':
    main(sys.argv)
