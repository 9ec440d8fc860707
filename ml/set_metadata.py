"""Set metadata_props entries of an ONNX file in place, leaving the graph untouched.

    /usr/bin/python3 ml/set_metadata.py models/toolcontrol-yolo.onnx agnostic_nms=True

Values are written as given (Ultralytics writes Python literals: True, [480, 640],
{0: 'pliers'}). The file is replaced atomically; its sha256 changes, its outputs do not.
"""
import os
import sys

import onnx


def replace_metadata(model, props: dict):
    """Make the model's metadata_props exactly `props` (insertion order kept)."""
    del model.metadata_props[:]
    for key, value in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value


def main(argv):
    if len(argv) < 3 or any('=' not in a for a in argv[2:]):
        sys.exit(__doc__)
    path = argv[1]
    model = onnx.load(path)
    props = {p.key: p.value for p in model.metadata_props}
    for assignment in argv[2:]:
        key, value = assignment.split('=', 1)
        props[key] = value
    replace_metadata(model, props)
    onnx.checker.check_model(model)
    tmp = path + '.tmp'
    onnx.save(model, tmp)
    os.replace(tmp, path)
    print(f'{path}: ' + ', '.join(f'{k}={props[k]}' for k in props))


if __name__ == '__main__':
    main(sys.argv)
