#!/usr/bin/env python3
"""Train toolcontrol's default detector on rendered toolkit scenes and export it
to ONNX in Ultralytics' YOLOv8 detect layout.

    /usr/bin/python3 ml/train.py --data ml/data/train --out ml/runs/train --epochs 40 --imgsz 320

Runs on Debian's python3-torch (1.13, CPU). The network is a small anchor-free
YOLO-style detector: conv-BN-SiLU backbone with outputs at strides 8/16/32, a
small PAN neck, and per-level heads predicting box side distances (in strides)
and class logits, no objectness. Assignment is centre sampling with per-level
size ranges; classification uses quality focal loss against task-aligned targets
(per object, the anchors whose boxes fit best score high, the others low, as in
Ultralytics' TAL; `--target iou` gives each anchor its own IoU instead), boxes GIoU. The export decodes inside the graph to cx, cy, w, h in input pixels and
sigmoid scores: output0 = [N, 4 + nc, anchors], exactly what Ultralytics'
exporter produces, with the same metadata_props.
"""
import argparse
import glob
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

torch.set_num_threads(2)

NAMES = [
    'screwdriver_flat', 'screwdriver_phillips', 'screwdriver_offset_phillips', 'brace',
    'safety_wire_pliers', 'pliers', 'shernitsa', 'adjustable_wrench', 'oil_can_opener',
    'combination_wrench_3_4', 'side_cutters',
]
STRIDES = (8, 16, 32)
# Channels of the stem, the stride-8/16/32 stages and the deepest one, for training from scratch
# (stages 1–4; the committed model was widened from them: --widths, widen()).
DEFAULT_WIDTHS = (16, 24, 48, 96, 192)
# Half the longest side of a box (px at imgsz) each level is responsible for.
LEVEL_RANGES = ((0, 48), (32, 96), (72, 1e9))


# ---------------------------------------------------------------- data

def letterbox(img: Image.Image, size):
    """Ultralytics LetterBox(auto=False): keep aspect, pad with 114, centre. size = (h, w)."""
    H, W = size
    w, h = img.size
    r = min(H / h, W / w)
    nw, nh = round(w * r), round(h * r)
    dw, dh = (W - nw) / 2, (H - nh) / 2
    top, left = round(dh - 0.1), round(dw - 0.1)
    canvas = Image.new('RGB', (W, H), (114, 114, 114))
    canvas.paste(img.resize((nw, nh), Image.BILINEAR), (left, top))
    return canvas, r, left, top


def load_split(root: str, split: str, size):
    images = sorted(glob.glob(os.path.join(root, 'images', split, '*.jpg')))
    data = np.zeros((len(images), 3, size[0], size[1]), dtype=np.uint8)
    labels = []
    for i, path in enumerate(images):
        img = Image.open(path).convert('RGB')
        w, h = img.size
        boxed, r, left, top = letterbox(img, size)
        data[i] = np.asarray(boxed).transpose(2, 0, 1)
        label_path = path.replace(os.sep + 'images' + os.sep, os.sep + 'labels' + os.sep)[:-4] + '.txt'
        rows = []
        with open(label_path) as f:
            for line in f:
                if not line.strip():
                    continue
                c, cx, cy, bw, bh = map(float, line.split())
                x1 = (cx - bw / 2) * w * r + left
                y1 = (cy - bh / 2) * h * r + top
                x2 = (cx + bw / 2) * w * r + left
                y2 = (cy + bh / 2) * h * r + top
                rows.append([c, x1, y1, x2, y2])
        labels.append(torch.tensor(rows, dtype=torch.float32).reshape(-1, 5))
    return torch.from_numpy(data), labels


# ---------------------------------------------------------------- model

class Conv(nn.Sequential):
    def __init__(self, c1, c2, k=3, s=1):
        super().__init__(nn.Conv2d(c1, c2, k, s, k // 2, bias=False), nn.BatchNorm2d(c2), nn.SiLU(inplace=True))


class Block(nn.Module):
    """Split-transform-merge (C2f-like): half the channels go through n residual pairs."""

    def __init__(self, c1, c2, n=1):
        super().__init__()
        h = c2 // 2
        self.stem = Conv(c1, 2 * h, 1)
        self.convs = nn.ModuleList(nn.Sequential(Conv(h, h), Conv(h, h)) for _ in range(n))
        self.out = Conv((2 + n) * h, c2, 1)

    def forward(self, x):
        a, b = self.stem(x).chunk(2, 1)
        ys = [a, b]
        for conv in self.convs:
            b = b + conv(b)
            ys.append(b)
        return self.out(torch.cat(ys, 1))


class SPPF(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.cv1 = Conv(c, c // 2, 1)
        self.cv2 = Conv(c * 2, c, 1)

    def forward(self, x):
        x = self.cv1(x)
        y1 = F.max_pool2d(x, 5, 1, 2)
        y2 = F.max_pool2d(y1, 5, 1, 2)
        y3 = F.max_pool2d(y2, 5, 1, 2)
        return self.cv2(torch.cat([x, y1, y2, y3], 1))


class Head(nn.Module):
    """Per level: a 1x1 reduction, then separate box and class branches (decoupled, as YOLOv8)."""

    def __init__(self, c, nc, hidden=48):
        super().__init__()
        self.reduce = Conv(c, hidden, 1)
        self.box = nn.Sequential(Conv(hidden, hidden), nn.Conv2d(hidden, 4, 1))
        self.cls = nn.Sequential(Conv(hidden, hidden), nn.Conv2d(hidden, nc, 1))
        nn.init.constant_(self.cls[-1].bias, -4.6)  # prior 0.01
        nn.init.constant_(self.box[-1].bias, 1.0)

    def forward(self, x):
        x = self.reduce(x)
        return self.box(x), self.cls(x)


class Detector(nn.Module):
    def __init__(self, nc=len(NAMES), w=DEFAULT_WIDTHS):
        super().__init__()
        self.nc = nc
        self.widths = tuple(w)
        self.stem = nn.Sequential(Conv(3, w[0], 3, 2), Conv(w[0], w[1], 3, 2), Block(w[1], w[1], 1))
        self.d3 = nn.Sequential(Conv(w[1], w[2], 3, 2), Block(w[2], w[2], 1))  # stride 8
        self.d4 = nn.Sequential(Conv(w[2], w[3], 3, 2), Block(w[3], w[3], 2))  # stride 16
        self.d5 = nn.Sequential(Conv(w[3], w[4], 3, 2), Block(w[4], w[4], 1), SPPF(w[4]))  # stride 32
        self.up4 = Block(w[4] + w[3], w[3])
        self.up3 = Block(w[3] + w[2], w[2])
        self.down4 = Conv(w[2], w[2], 3, 2)
        self.pan4 = Block(w[2] + w[3], w[3])
        self.down5 = Conv(w[3], w[3], 3, 2)
        self.pan5 = Block(w[3] + w[4], w[4])
        self.heads = nn.ModuleList([Head(w[2], nc), Head(w[3], nc), Head(w[4], nc)])

    def features(self, x):
        x = self.stem(x)
        p3 = self.d3(x)
        p4 = self.d4(p3)
        p5 = self.d5(p4)
        t4 = self.up4(torch.cat([F.interpolate(p5, scale_factor=2.0, mode='nearest'), p4], 1))
        n3 = self.up3(torch.cat([F.interpolate(t4, scale_factor=2.0, mode='nearest'), p3], 1))
        n4 = self.pan4(torch.cat([self.down4(n3), t4], 1))
        n5 = self.pan5(torch.cat([self.down5(n4), p5], 1))
        return [n3, n4, n5]

    def forward(self, x):
        """Raw per-level outputs: list of (box [B,4,H,W], cls [B,nc,H,W])."""
        return [head(f) for head, f in zip(self.heads, self.features(x))]


def anchor_points(size):
    """Anchor centres for an input of size (h, w), level by level as Ultralytics orders them."""
    points, strides = [], []
    for s in STRIDES:
        nh, nw = size[0] // s, size[1] // s
        ys, xs = torch.meshgrid(torch.arange(nh), torch.arange(nw), indexing='ij')
        pts = torch.stack([(xs.flatten() + 0.5) * s, (ys.flatten() + 0.5) * s], 1).float()
        points.append(pts)
        strides.append(torch.full((nh * nw,), float(s)))
    return torch.cat(points), torch.cat(strides)


def flatten_outputs(outputs):
    """→ box distances [B, A, 4] (in strides, before softplus) and class logits [B, A, nc]."""
    boxes = torch.cat([b.flatten(2) for b, _ in outputs], 2).permute(0, 2, 1)
    logits = torch.cat([c.flatten(2) for _, c in outputs], 2).permute(0, 2, 1)
    return boxes, logits


def decode(dist_raw, points, strides):
    d = F.softplus(dist_raw) * strides[None, :, None]
    x1y1 = points[None] - d[..., :2]
    x2y2 = points[None] + d[..., 2:]
    return torch.cat([x1y1, x2y2], -1)


class Exported(nn.Module):
    """The graph that is exported: decoded boxes (cx, cy, w, h, input px) and sigmoid scores."""

    def __init__(self, model: Detector, size):
        super().__init__()
        self.model = model
        points, strides = anchor_points(size)
        self.register_buffer('points', points)
        self.register_buffer('strides', strides)

    def forward(self, images):
        dist_raw, logits = flatten_outputs(self.model(images))
        boxes = decode(dist_raw, self.points, self.strides)
        cxcy = (boxes[..., :2] + boxes[..., 2:]) / 2
        wh = boxes[..., 2:] - boxes[..., :2]
        return torch.cat([cxcy, wh, logits.sigmoid()], -1).permute(0, 2, 1)


# ---------------------------------------------------------------- loss

def box_iou_pairs(a, b):
    lt = torch.max(a[:, :2], b[:, :2])
    rb = torch.min(a[:, 2:], b[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(1)
    area_a = (a[:, 2:] - a[:, :2]).clamp(min=0).prod(1)
    area_b = (b[:, 2:] - b[:, :2]).clamp(min=0).prod(1)
    union = area_a + area_b - inter + 1e-7
    iou = inter / union
    enclose = (torch.max(a[:, 2:], b[:, 2:]) - torch.min(a[:, :2], b[:, :2])).clamp(min=0).prod(1) + 1e-7
    giou = iou - (enclose - union) / enclose
    return iou, giou


def assign(gt, points, strides):
    """Centre sampling with level ranges. gt: [G, 5] (cls, x1, y1, x2, y2). → gt index per anchor (-1 = background)."""
    A = points.shape[0]
    if gt.shape[0] == 0:
        return torch.full((A,), -1, dtype=torch.long)
    x, y = points[:, 0:1], points[:, 1:2]
    l = x - gt[None, :, 1]
    t = y - gt[None, :, 2]
    r = gt[None, :, 3] - x
    b = gt[None, :, 4] - y
    inside = torch.stack([l, t, r, b], -1).min(-1).values > 0
    cx = (gt[:, 1] + gt[:, 3]) / 2
    cy = (gt[:, 2] + gt[:, 4]) / 2
    radius = strides[:, None] * 2.5
    near = ((x - cx[None]).abs() < radius) & ((y - cy[None]).abs() < radius)
    half = torch.max(gt[:, 3] - gt[:, 1], gt[:, 4] - gt[:, 2])[None] / 2
    lo = torch.zeros_like(strides)
    hi = torch.zeros_like(strides)
    for s, (a, bnd) in zip(STRIDES, LEVEL_RANGES):
        lo[strides == s] = a
        hi[strides == s] = bnd
    in_range = (half >= lo[:, None]) & (half <= hi[:, None])
    ok = inside & near & in_range
    # Thin boxes can fall between anchor centres: let their nearest anchors inside the box count.
    area = ((gt[:, 3] - gt[:, 1]) * (gt[:, 4] - gt[:, 2]))[None].expand(A, -1).clone()
    area[~ok] = float('inf')
    best_area, best = area.min(1)
    best[torch.isinf(best_area)] = -1
    missing = [g for g in range(gt.shape[0]) if not (best == g).any()]
    for g in missing:
        cand = inside[:, g]
        if cand.any():
            d = (x[:, 0] - cx[g]) ** 2 + (y[:, 0] - cy[g]) ** 2
            d[~cand] = float('inf')
            idx = torch.topk(d, k=min(3, int(cand.sum())), largest=False).indices
            best[idx] = g
    return best


def compute_loss(outputs, labels, points, strides, nc, target='tal'):
    dist_raw, logits = flatten_outputs(outputs)
    pred_boxes = decode(dist_raw, points, strides)
    B = logits.shape[0]
    cls_target = torch.zeros_like(logits)
    box_losses, npos = [], 0
    for i in range(B):
        gt = labels[i]
        idx = assign(gt, points, strides)
        pos = idx >= 0
        n = int(pos.sum())
        if n == 0:
            continue
        npos += n
        matched = gt[idx[pos]]
        iou, giou = box_iou_pairs(pred_boxes[i][pos], matched[:, 1:])
        box_losses.append((1 - giou).sum())
        anchors, classes = pos.nonzero(as_tuple=True)[0], matched[:, 0].long()
        iou = iou.detach().clamp(min=0)
        if target == 'iou':
            cls_target[i, anchors, classes] = iou.clamp(min=0.05)
        else:
            # Task-aligned targets (as Ultralytics' TAL): per object, the anchor whose box and
            # score align best gets the object's best IoU, the others far less, so that a
            # half-fitting box from a neighbouring anchor scores low instead of ~ its IoU and
            # is not reported as a second tool beside the right box.
            score = logits[i, anchors, classes].detach().sigmoid()
            metric = score.pow(0.5) * iou.pow(6)
            g = idx[pos]
            G = gt.shape[0]
            best_metric = torch.zeros(G).scatter_reduce(0, g, metric, reduce='amax', include_self=False)
            best_iou = torch.zeros(G).scatter_reduce(0, g, iou, reduce='amax', include_self=False)
            cls_target[i, anchors, classes] = metric / (best_metric[g] + 1e-9) * best_iou[g]
    # Quality focal loss: BCE against the IoU-aware target, weighted by |target - p|^2.
    p = logits.sigmoid()
    qfl = F.binary_cross_entropy_with_logits(logits, cls_target, reduction='none') * (cls_target - p).abs().pow(2)
    norm = max(npos, 1)
    cls_loss = qfl.sum() / norm
    box_loss = torch.stack(box_losses).sum() / norm if box_losses else logits.sum() * 0
    return cls_loss + 2.5 * box_loss, cls_loss.detach(), box_loss.detach()


# ---------------------------------------------------------------- export

def export_onnx(model: Detector, size, path: str, meta: dict):
    import onnx
    from set_metadata import replace_metadata

    exported = Exported(model, size).eval()
    dummy = torch.zeros(1, 3, size[0], size[1])
    tmp = path + '.tmp'
    torch.onnx.export(
        exported, dummy, tmp, opset_version=17, input_names=['images'], output_names=['output0'],
        dynamic_axes={'images': {0: 'batch'}, 'output0': {0: 'batch'}}, do_constant_folding=True,
    )
    m = onnx.load(tmp)
    names = '{' + ', '.join(f"{i}: '{n}'" for i, n in enumerate(NAMES)) + '}'
    props = {
        'description': meta.get('description', 'toolcontrol default detector (11 aviation toolkit tools), trained on rendered scenes'),
        'author': 'toolcontrol',
        'date': time.strftime('%Y-%m-%dT%H:%M:%S'),
        'version': meta.get('version', '1.0.0'),
        'license': 'MIT',
        'stride': '32',
        'task': 'detect',
        'batch': '1',
        'imgsz': f'[{size[0]}, {size[1]}]',
        'names': names,
        'args': "{'batch': 1, 'half': False, 'dynamic': True, 'nms': False}",
        # Not an Ultralytics key: toolcontrol's NMS default for this model (NMS_AGNOSTIC overrides).
        # Counting is the job, and one screwdriver must not count as both a flat and a Phillips.
        'agnostic_nms': 'True',
    }
    replace_metadata(m, props)
    onnx.checker.check_model(m)
    onnx.save(m, tmp)
    os.replace(tmp, path)
    # Reference input/output for scripts/verify-export.ts (onnxruntime must agree with torch).
    g = torch.Generator().manual_seed(7)
    probe = torch.rand(2, 3, size[0], size[1], generator=g)
    with torch.no_grad():
        expected = exported(probe)
    probe.numpy().astype('<f4').tofile(path + '.probe-input.bin')
    expected.numpy().astype('<f4').tofile(path + '.probe-output.bin')
    return exported


# ---------------------------------------------------------------- init from an export

def load_onnx_weights(model: Detector, path: str):
    """Load the weights of an ONNX file this script exported (toolcontrol's committed model)
    into `model`, so training can go on from it when its last.pt is gone. The export folded
    each BatchNorm into the conv before it; the BN is set to an identity plus the folded
    bias, which is exact in eval mode (train with --freeze-bn to keep it so)."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(path).graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    nodes = [n for n in graph.node if n.op_type == 'Conv']
    order = []
    hooks = [m.register_forward_hook(lambda mod, i, o: order.append(mod)) for m in model.modules() if isinstance(m, nn.Conv2d)]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, 64, 64))
    for h in hooks:
        h.remove()
    if len(order) != len(nodes):
        raise SystemExit(f'{path}: {len(nodes)} convolutions, the network has {len(order)}')
    bn_after = {m[0]: m[1] for m in model.modules() if isinstance(m, Conv)}
    for conv, node in zip(order, nodes):
        weight = torch.from_numpy(inits[node.input[1]].copy())
        bias = torch.from_numpy(inits[node.input[2]].copy()) if len(node.input) > 2 else torch.zeros(weight.shape[0])
        if weight.shape != conv.weight.shape:
            raise SystemExit(f'{path}: conv {node.name} is {tuple(weight.shape)}, expected {tuple(conv.weight.shape)}')
        with torch.no_grad():
            conv.weight.copy_(weight)
            bn = bn_after.get(conv)
            if bn is None:
                conv.bias.copy_(bias)
            else:
                bn.running_mean.zero_()
                bn.running_var.fill_(1 - bn.eps)
                bn.weight.fill_(1.0)
                bn.bias.copy_(bias)


def onnx_widths(path: str):
    """The Detector widths of an ONNX file this script exported, from its convolutions in
    graph order (the same order load_onnx_weights relies on): the stem's two convs, then the
    downsampling conv that opens each of d3, d4 and d5."""
    import onnx

    graph = onnx.load(path).graph
    shapes = {t.name: t.dims for t in graph.initializer}
    outs = [shapes[n.input[1]][0] for n in graph.node if n.op_type == 'Conv']
    return (outs[0], outs[1], outs[6], outs[11], outs[18])


def checkpoint_widths(state: dict):
    return tuple(int(state[f'{k}.weight'].shape[0]) for k in ('stem.0.0', 'stem.1.0', 'd3.0.0', 'd4.0.0', 'd5.0.0'))


def widen(src: Detector, dst: Detector, noise=0.01, seed=0):
    """Net2WiderNet: copy a trained Detector into a wider one so that the wider one computes
    the same function. Every channel of dst stands for a channel of src (new channels repeat
    old ones); a layer that reads repeated channels divides their weights by the number of
    copies. The copies then get a little noise on their incoming weights (a fraction `noise`
    of each filter's spread), or they would stay identical however long they train."""
    gen = torch.Generator().manual_seed(seed)

    def std(old, new):
        return torch.arange(new) % old

    def copy_conv(sc: nn.Conv2d, dc: nn.Conv2d, in_map, out_map, sbn=None, dbn=None):
        w = sc.weight.detach()
        counts = torch.bincount(in_map, minlength=w.shape[1]).float()
        new = w[out_map][:, in_map] / counts[in_map][None, :, None, None]
        repeat = torch.zeros(len(out_map), dtype=torch.bool)
        seen = set()
        for j, o in enumerate(out_map.tolist()):
            repeat[j] = o in seen
            seen.add(o)
        if noise and repeat.any():
            spread = new[repeat].flatten(1).std(1).clamp_min(1e-8)[:, None, None, None]
            new[repeat] += noise * spread * torch.randn(new[repeat].shape, generator=gen)
        dc.weight.data.copy_(new)
        if sc.bias is not None:
            dc.bias.data.copy_(sc.bias.detach()[out_map])
        if sbn is not None:
            for name in ('weight', 'bias', 'running_mean', 'running_var'):
                getattr(dbn, name).data.copy_(getattr(sbn, name).detach()[out_map])

    def conv(s: Conv, d: Conv, in_map):
        out_map = std(s[0].out_channels, d[0].out_channels)
        copy_conv(s[0], d[0], in_map, out_map, s[1], d[1])
        return out_map

    def block(s: Block, d: Block, in_map):
        h, h2 = s.stem[0].out_channels // 2, d.stem[0].out_channels // 2
        half = std(h, h2)
        copy_conv(s.stem[0], d.stem[0], in_map, torch.cat([half, h + half]), s.stem[1], d.stem[1])
        for sp, dp in zip(s.convs, d.convs):
            copy_conv(sp[0][0], dp[0][0], half, half, sp[0][1], dp[0][1])
            copy_conv(sp[1][0], dp[1][0], half, half, sp[1][1], dp[1][1])
        parts = torch.cat([k * h + half for k in range(2 + len(s.convs))])
        return conv(s.out, d.out, parts)

    def sppf(s: SPPF, d: SPPF, in_map):
        m = conv(s.cv1, d.cv1, in_map)
        c = s.cv1[0].out_channels
        return conv(s.cv2, d.cv2, torch.cat([k * c + m for k in range(4)]))

    def head(s: Head, d: Head, in_map):
        m = conv(s.reduce, d.reduce, in_map)
        for sb, db in ((s.box, d.box), (s.cls, d.cls)):
            mid = conv(sb[0], db[0], m)
            copy_conv(sb[1], db[1], mid, torch.arange(sb[1].out_channels))

    def cat(maps_and_sizes):
        out, offset = [], 0
        for m, old in maps_and_sizes:
            out.append(offset + m)
            offset += old
        return torch.cat(out)

    w = src.widths
    with torch.no_grad():
        m = conv(src.stem[0], dst.stem[0], torch.arange(3))
        m = conv(src.stem[1], dst.stem[1], m)
        m = block(src.stem[2], dst.stem[2], m)
        m3 = block(src.d3[1], dst.d3[1], conv(src.d3[0], dst.d3[0], m))
        m4 = block(src.d4[1], dst.d4[1], conv(src.d4[0], dst.d4[0], m3))
        m5 = sppf(src.d5[2], dst.d5[2], block(src.d5[1], dst.d5[1], conv(src.d5[0], dst.d5[0], m4)))
        t4 = block(src.up4, dst.up4, cat([(m5, w[4]), (m4, w[3])]))
        n3 = block(src.up3, dst.up3, cat([(t4, w[3]), (m3, w[2])]))
        n4 = block(src.pan4, dst.pan4, cat([(conv(src.down4, dst.down4, n3), w[2]), (t4, w[3])]))
        n5 = block(src.pan5, dst.pan5, cat([(conv(src.down5, dst.down5, n4), w[3]), (m5, w[4])]))
        for sh, dh, mm in zip(src.heads, dst.heads, (n3, n4, n5)):
            head(sh, dh, mm)


def flip_batch(x, labels, size):
    """Random horizontal and vertical flips (a tool seen from above is still that tool)."""
    H, W = size
    out = []
    for i, gt in enumerate(labels):
        gt = gt.clone()
        if torch.rand(1).item() < 0.5:
            x[i] = x[i].flip(-1)
            gt[:, [1, 3]] = W - gt[:, [3, 1]]
        if torch.rand(1).item() < 0.5:
            x[i] = x[i].flip(-2)
            gt[:, [2, 4]] = H - gt[:, [4, 2]]
        out.append(gt)
    return x, out


def jitter_batch(x, labels, size, scale=0.2, shift=0.05, colour=0.15, min_visible=0.6):
    """Random zoom about the centre (1 ± scale), shift (± shift of each side), brightness,
    contrast and per-channel gain (± colour), per image; the letterbox grey fills what the
    zoom uncovers. A box keeps its label if at least min_visible of it stays in the image;
    the rest are dropped (their tools are cut off at the border)."""
    H, W = size
    grey = 114 / 255
    out_labels = []
    for i, gt in enumerate(labels):
        u = torch.rand(7)
        s = 1 + (2 * u[0].item() - 1) * scale
        tx, ty = (2 * u[1].item() - 1) * shift * W, (2 * u[2].item() - 1) * shift * H
        # Output normalised coordinate p = s·q + t for input coordinate q (grid_sample wants q(p)).
        theta = torch.tensor([[[1 / s, 0, -(2 * tx / W) / s], [0, 1 / s, -(2 * ty / H) / s]]], dtype=x.dtype)
        grid = F.affine_grid(theta, (1, 3, H, W), align_corners=False)
        img = F.grid_sample(x[i:i + 1] - grey, grid, mode='bilinear', padding_mode='zeros', align_corners=False)[0] + grey
        brightness = 1 + (2 * u[3].item() - 1) * colour
        contrast = 1 + (2 * u[4].item() - 1) * colour
        gain = 1 + (2 * torch.rand(3, 1, 1) - 1) * colour / 2
        mean = img.mean()
        x[i] = (((img - mean) * contrast + mean) * brightness * gain).clamp_(0, 1)
        gt = gt.clone()
        if len(gt):
            gt[:, [1, 3]] = gt[:, [1, 3]] * s + (1 - s) * W / 2 + tx
            gt[:, [2, 4]] = gt[:, [2, 4]] * s + (1 - s) * H / 2 + ty
            area = (gt[:, 3] - gt[:, 1]) * (gt[:, 4] - gt[:, 2])
            gt[:, [1, 3]] = gt[:, [1, 3]].clamp(0, W)
            gt[:, [2, 4]] = gt[:, [2, 4]].clamp(0, H)
            kept = (gt[:, 3] - gt[:, 1]) * (gt[:, 4] - gt[:, 2]) >= min_visible * area
            gt = gt[kept]
        out_labels.append(gt)
    return x, out_labels


# ---------------------------------------------------------------- training

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', required=True)
    ap.add_argument('--out', default='ml/runs/train')
    ap.add_argument('--epochs', type=int, default=40)
    ap.add_argument('--imgsz', default='320', help='square size, or H,W (multiples of 32)')
    ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--minutes', type=float, default=0, help='stop after this long (0 = no limit); the schedule is sized to it')
    ap.add_argument('--export', default='models/toolcontrol-yolo.onnx')
    ap.add_argument('--init', help='start from these weights (a last.pt, or an .onnx this script exported) instead of from scratch')
    ap.add_argument('--freeze-bn', action='store_true', help='keep BatchNorm statistics fixed (implied by an .onnx --init)')
    ap.add_argument('--no-flip', action='store_true', help='no random flips of the training images')
    ap.add_argument('--jitter', action='store_true', help='random zoom, shift and colour per training image (jitter_batch)')
    ap.add_argument('--widths', help='channels of the five stages, e.g. 24,48,96,192,384 (default 16,24,48,96,192, or those of --init); wider than --init widens it (Net2WiderNet)')
    ap.add_argument('--target', choices=['tal', 'iou'], default='tal', help='class-score targets of the anchors assigned to an object: task-aligned (the best anchor high, the rest low) or each anchor\'s IoU (the first models)')
    args = ap.parse_args()
    dims = [int(v) for v in str(args.imgsz).split(',')]
    args.imgsz = (dims[0], dims[-1])
    if any(d % 32 for d in args.imgsz):
        ap.error('--imgsz must be a multiple of 32')
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)

    t0 = time.time()
    train_x, train_y = load_split(args.data, 'train', args.imgsz)
    val_x, val_y = load_split(args.data, 'val', args.imgsz)
    print(f'loaded {len(train_y)} train / {len(val_y)} val images in {time.time() - t0:.0f} s', flush=True)

    widths = tuple(int(v) for v in args.widths.split(',')) if args.widths else None
    if widths is not None and len(widths) != 5:
        ap.error('--widths takes five numbers')
    if args.init and args.init.endswith('.onnx'):
        model = Detector(w=onnx_widths(args.init))
        load_onnx_weights(model, args.init)
        args.freeze_bn = True
        print(f'initialised from {args.init} (BatchNorm frozen)', flush=True)
    elif args.init:
        state = torch.load(args.init)['model']
        model = Detector(w=checkpoint_widths(state))
        model.load_state_dict(state)
        print(f'initialised from {args.init}', flush=True)
    else:
        model = Detector(w=widths or DEFAULT_WIDTHS)
    if widths is not None and widths != model.widths:
        if any(a > b for a, b in zip(model.widths, widths)):
            ap.error(f'--widths {widths} is narrower than the initial weights {model.widths}')
        wider = Detector(w=widths)
        widen(model, wider)
        print(f'widened {model.widths} → {widths} (Net2WiderNet)', flush=True)
        model = wider
    params = sum(p.numel() for p in model.parameters())
    print(f'parameters: {params / 1e6:.2f} M, widths {model.widths}', flush=True)
    ema = Detector(w=model.widths)
    ema.load_state_dict(model.state_dict())
    for p in ema.parameters():
        p.requires_grad_(False)
    points, strides = anchor_points(args.imgsz)

    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=5e-4)
    steps_per_epoch = math.ceil(len(train_y) / args.batch)
    total_steps = args.epochs * steps_per_epoch
    warmup = min(500, total_steps // 10)
    step = 0
    history = []
    epoch = 0
    # A while loop, not range(): the time budget below may shorten args.epochs after epoch 1.
    while epoch < args.epochs:
        model.train()
        if args.freeze_bn:
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        perm = torch.randperm(len(train_y))
        started = time.time()
        sums = [0.0, 0.0, 0.0]
        for bi in range(steps_per_epoch):
            idx = perm[bi * args.batch:(bi + 1) * args.batch]
            x = train_x[idx].float() / 255.0
            y = [train_y[int(i)] for i in idx]
            if not args.no_flip:
                x, y = flip_batch(x, y, args.imgsz)
            if args.jitter:
                x, y = jitter_batch(x, y, args.imgsz)
            lr = args.lr * (step / warmup if step < warmup else 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total_steps - warmup))) * 0.95 + 0.05)
            for g in opt.param_groups:
                g['lr'] = lr
            loss, cls_l, box_l = compute_loss(model(x), y, points, strides, len(NAMES), args.target)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            opt.step()
            step += 1
            decay = 0.9995 * (1 - math.exp(-step / 300))
            with torch.no_grad():
                msd = model.state_dict()
                for k, v in ema.state_dict().items():
                    if v.dtype.is_floating_point:
                        v.mul_(decay).add_(msd[k].detach(), alpha=1 - decay)
                    else:
                        v.copy_(msd[k])
            sums[0] += float(loss)
            sums[1] += float(cls_l)
            sums[2] += float(box_l)
        ema.eval()
        with torch.no_grad():
            vl = []
            for bi in range(0, len(val_y), 32):
                x = val_x[bi:bi + 32].float() / 255.0
                vl.append(float(compute_loss(ema(x), val_y[bi:bi + 32], points, strides, len(NAMES), args.target)[0]))
        elapsed = time.time() - started
        record = {
            'epoch': epoch + 1, 'loss': sums[0] / steps_per_epoch, 'cls': sums[1] / steps_per_epoch, 'box': sums[2] / steps_per_epoch,
            'val_loss': sum(vl) / max(1, len(vl)), 'seconds': round(elapsed, 1), 'images_per_s': round(len(train_y) / elapsed, 1),
            'lr': lr,
        }
        history.append(record)
        if args.minutes and epoch == 0:
            # Size the schedule to the time budget, so the learning rate has decayed when time is up.
            budget = int((args.minutes * 60 - (time.time() - t0)) / elapsed) + 1
            if budget < args.epochs:
                args.epochs = max(2, budget)
                total_steps = args.epochs * steps_per_epoch
                print(f'time budget: {args.epochs} epochs', flush=True)
        print(json.dumps(record), flush=True)
        torch.save({'model': ema.state_dict(), 'epoch': epoch + 1, 'imgsz': list(args.imgsz)}, os.path.join(args.out, 'last.pt'))
        last = epoch + 1 == args.epochs
        out_of_time = args.minutes and (time.time() - t0) / 60 > args.minutes
        if (epoch + 1) % 5 == 0 or last or out_of_time:
            export_onnx(ema, args.imgsz, args.export, {'version': f'1.0.{epoch + 1}'})
            print(f'exported {args.export} (epoch {epoch + 1})', flush=True)
        if out_of_time:
            print(f'stopping: {args.minutes} minutes reached', flush=True)
            break
        epoch += 1

    with open(os.path.join(args.out, 'history.json'), 'w') as f:
        json.dump({'params': params, 'imgsz': list(args.imgsz), 'train_images': len(train_y), 'val_images': len(val_y),
                   'minutes': round((time.time() - t0) / 60, 1), 'epochs': history}, f, indent=1)
    print(f'done in {(time.time() - t0) / 60:.1f} min', flush=True)


if __name__ == '__main__':
    main()
