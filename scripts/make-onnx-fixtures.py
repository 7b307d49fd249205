#!/usr/bin/python3
"""Fixtures for user architectures defined by an ONNX export (docs/architectures.md).

Run with Debian's PyTorch (python3-torch 1.13, python3-torchvision 0.14, python3-onnx):
    /usr/bin/python3 scripts/make-onnx-fixtures.py --out test/fixtures/onnx

For each model it writes, under <out>/<model>/:
  model.onnx            torch.onnx.export(model.eval(), ..., export_params=True, do_constant_folding=False,
                        training=TrainingMode.PRESERVE, opset 17, dynamic batch axis)
  init.safetensors      state_dict() at initialisation (every entry, num_batches_tracked included)
  final.safetensors     state_dict() after a few SGD steps in train mode
  dataset.safetensors   `x` F32 [n, ...input shape] (the exact network input), `labels` U8 [n]
  reference.json        loss and accuracy at alpha = i/10, i = 0..10: the full path and one block-wise path
Variants: mlp-bn/model.noparams.onnx (export_params=False: parameters are graph inputs), mlp-bn/model.dedup.onnx
(exported at the init state, where equal parameters are deduplicated into Identity nodes) and
mobilenetv3/model.folded.onnx (the default eval export: BatchNorm folded into Conv under new names; to be refused).

Conventions (those of ../shared/fixtures): theta(alpha) = fl32(fl32(c0 * a) + fl32(c1 * b)) with c0 = float32(1 - alpha)
and c1 = float32(alpha), for every float tensor (BatchNorm running statistics included); integer buffers from the
final state. Block-wise: tensors whose state_dict name is the block or starts with "<block>." move, the others are the
final state's. Eval mode. Loss: mean softmax cross-entropy, per example in float64 from the float32 logits; accuracy:
argmax (first maximum) == label. Safetensors are written by this script (no python safetensors package needed).
"""
import argparse
import json
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torchvision

DTYPES = {torch.float32: "F32", torch.int64: "I64", torch.uint8: "U8"}


def save_safetensors(tensors, path):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        data = t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def interpolate(a, b, alpha, moving):
    c0 = torch.tensor(1 - alpha, dtype=torch.float32)
    c1 = torch.tensor(alpha, dtype=torch.float32)
    out = {}
    for name, tb in b.items():
        ta = a[name]
        if tb.is_floating_point() and moving(name):
            out[name] = c0 * ta + c1 * tb  # each product and the sum rounded to float32, as linpath does
        else:
            out[name] = tb
    return out


def evaluate(model, state, x, labels):
    model.load_state_dict(state)
    model.eval()
    with torch.no_grad():
        logits = model(x).double()
    loss = torch.nn.functional.cross_entropy(logits, labels.long(), reduction="none")
    correct = (logits.float().argmax(dim=1) == labels.long()).sum().item()
    return {"loss": loss.mean().item(), "lossSum": loss.sum().item(), "correct": int(correct), "n": len(labels)}


def curve(model, init, final, x, labels, block):
    moving = (lambda n: True) if block is None else (lambda n: n == block or n.startswith(block + "."))
    return [
        {"alpha": i / 10, **evaluate(model, interpolate(init, final, i / 10, moving), x, labels)} for i in range(11)
    ]


def export(model, example, path, **kwargs):
    options = dict(
        export_params=True,
        do_constant_folding=False,
        training=torch.onnx.TrainingMode.PRESERVE,
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=17,
    )
    options.update(kwargs)
    model.eval()
    torch.onnx.export(model, example, path, **options)


def images(n, classes, seed, shape=(3, 32, 32)):
    """Class-dependent oriented gratings with noise, like ../shared/fixtures' image set, as float32 NCHW."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % classes
    labels = labels[torch.randperm(n, generator=g)]
    c, h, w = shape
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    x = torch.empty(n, c, h, w)
    for i in range(n):
        k = labels[i].item()
        theta = k * np.pi / classes + (torch.rand(1, generator=g).item() - 0.5) * 0.3
        wave = torch.sin(2 * np.pi * 3 * (xx * np.cos(theta) + yy * np.sin(theta)) / w)
        colour = torch.tensor([0.5 + 0.5 * (k % 2), 0.6, 1.0 - 0.5 * (k % 2)])
        x[i] = colour[:, None, None] * wave[None] + 0.3 * torch.randn(c, h, w, generator=g)
    return x.float(), labels.to(torch.uint8)


def features(n, classes, dim, seed):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, dim, generator=torch.Generator().manual_seed(1))
    labels = (torch.arange(n) % classes)[torch.randperm(n, generator=g)]
    x = centres[labels] * 1.5 + torch.randn(n, dim, generator=g)
    return x.float(), labels.to(torch.uint8)


def train(model, x, labels, steps, lr, seed):
    torch.manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    model.train()
    for step in range(steps):
        idx = torch.randperm(len(labels))[:32]
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x[idx]), labels[idx].long())
        loss.backward()
        opt.step()
    model.eval()


class MlpBn(nn.Module):
    def __init__(self, dim, hidden, classes):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.bn1 = nn.BatchNorm1d(hidden)
        self.drop1 = nn.Dropout(0.2)
        self.fc2 = nn.Linear(hidden, hidden)
        self.bn2 = nn.BatchNorm1d(hidden)
        self.drop2 = nn.Dropout(0.2)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):
        x = self.drop1(torch.relu(self.bn1(self.fc1(x))))
        x = self.drop2(torch.relu(self.bn2(self.fc2(x))))
        return self.head(x)


class TinyVit(nn.Module):
    """Patch embedding (Conv 8x8 stride 8), learned position embedding, two encoder layers (GELU), LayerNorm,
    mean over tokens, linear head."""

    def __init__(self, dim=32, depth=2, heads=2, classes=10):
        super().__init__()
        self.patch = nn.Conv2d(3, dim, 8, stride=8)
        self.pos = nn.Parameter(torch.randn(1, 16, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout=0.1, activation="gelu", batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2) + self.pos
        x = self.norm(self.encoder(x))
        return self.head(x.mean(dim=1))


def make(out, name, model, x, labels, train_x, train_labels, block, steps, lr, variants=(), dataset=None):
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    if dataset is None:
        save_safetensors({"x": x, "labels": labels}, os.path.join(folder, "dataset.safetensors"))
    init = {k: v.clone() for k, v in model.state_dict().items()}
    train(model, train_x, train_labels, steps, lr, seed=11)
    final = {k: v.clone() for k, v in model.state_dict().items()}
    save_safetensors(init, os.path.join(folder, "init.safetensors"))
    save_safetensors(final, os.path.join(folder, "final.safetensors"))
    model.load_state_dict(final)
    example = x[:2]
    export(model, example, os.path.join(folder, "model.onnx"))
    for variant, kwargs in variants:
        # model.dedup.onnx is exported at the init state, where BatchNorm weights (all 1) and biases (all 0) are
        # equal: the exporter keeps one initializer for each set of equal tensors and gives the others as Identity
        # nodes, which linpath must turn back into parameters of their own.
        model.load_state_dict(init if variant == "dedup" else final)
        export(model, example, os.path.join(folder, f"model.{variant}.onnx"), **kwargs)
    model.load_state_dict(final)
    reference = {
        "model": name,
        "dataset": dataset or "dataset.safetensors",
        "torch": torch.__version__,
        "inputShape": list(x.shape[1:]),
        "classes": int(labels.max().item()) + 1,
        "examples": len(labels),
        "full": curve(model, init, final, x, labels, None),
        "block": block,
        "blockwise": curve(model, init, final, x, labels, block),
    }
    with open(os.path.join(folder, "reference.json"), "w") as f:
        json.dump(reference, f, indent=1)
    print(name, sum(v.numel() for v in final.values()), "values;", reference["full"][0], reference["full"][-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="test/fixtures/onnx")
    out = parser.parse_args().out
    torch.set_num_threads(1)

    torch.manual_seed(0)
    x, labels = features(96, 3, 16, seed=2)
    tx, tl = features(512, 3, 16, seed=3)
    make(out, "mlp-bn", MlpBn(16, 32, 3), x, labels, tx, tl, "bn1", steps=30, lr=0.05,
         variants=[("noparams", dict(export_params=False)), ("dedup", {})])

    torch.manual_seed(0)
    x, labels = images(32, 10, seed=4)
    tx, tl = images(256, 10, seed=5)
    mnv3 = torchvision.models.mobilenet_v3_small(num_classes=10, width_mult=0.25)
    for module in mnv3.modules():  # torchvision's momentum 0.01 leaves eval mode at the init after a few steps
        if isinstance(module, nn.BatchNorm2d):
            module.momentum = 0.3
    make(out, "mobilenetv3", mnv3, x, labels, tx, tl, "features.4", steps=60, lr=0.05)

    torch.manual_seed(0)
    make(out, "vit", TinyVit(), x, labels, tx, tl, "encoder.layers.1", steps=30, lr=0.05,
         dataset="../mobilenetv3/dataset.safetensors")

    # The default eval-mode export (constant folding on) folds each BatchNorm into its Conv under new names.
    torch.manual_seed(0)
    cnn = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))
    os.makedirs(os.path.join(out, "folded"), exist_ok=True)
    export(cnn, x[:2], os.path.join(out, "folded", "model.onnx"), do_constant_folding=True,
           training=torch.onnx.TrainingMode.EVAL)


if __name__ == "__main__":
    main()
