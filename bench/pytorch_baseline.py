#!/usr/bin/env python3
"""PyTorch baseline for `npm run bench` (bench/engines.bench.mjs): the same alpha-point linpath's engines do.

One alpha-point = theta(alpha) = (1 - alpha) * theta_init + alpha * theta_final in float32 for every float
tensor (num_batches_tracked from the final state), load_state_dict, forward passes in eval mode under
torch.no_grad() in batches (250 for the ResNet, 5000 for the MLP), per-example loss and argmax. After one
warm-up point it times `--runs` points and prints one JSON line with the median and images/s.

The models are written by hand (torchvision need not be installed) with torchvision's state_dict names; the
safetensors files are parsed by hand (8-byte little-endian header length, JSON header, data), not with the
safetensors package. Needs only torch and numpy (Debian: apt-get install python3-torch python3-numpy).
"""
import argparse
import gzip
import json
import os
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32, "U8": np.uint8, "I8": np.int8}


def load_safetensors(path):
    """{name: numpy array} of a plain (or .gz) safetensors file."""
    with open(path, "rb") as f:
        buf = f.read()
    if path.endswith(".gz"):
        buf = gzip.decompress(buf)
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    data = memoryview(buf)[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = np.dtype(DTYPES[info["dtype"]]).newbyteorder("<")
        out[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(info["shape"]).copy()
    return out


class MLP(nn.Module):
    """fc1 -> ReLU -> fc2 -> ReLU -> fc3, one logit per point; widths from the checkpoint."""

    def __init__(self, sizes):
        super().__init__()
        self.fc1 = nn.Linear(sizes[0], sizes[1])
        self.fc2 = nn.Linear(sizes[1], sizes[2])
        self.fc3 = nn.Linear(sizes[2], sizes[3])

    def forward(self, x):
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x))))).squeeze(1)


class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, 0, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18Cifar(nn.Module):
    """torchvision names; 3x3 stride-1 stem, no maxpool, BasicBlocks [2, 2, 2, 2]."""

    def __init__(self, num_classes=10, width=64, in_channels=3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        inp = width
        for i, mult in enumerate([1, 2, 4, 8]):
            planes = width * mult
            setattr(self, f"layer{i + 1}", nn.Sequential(BasicBlock(inp, planes, 1 if i == 0 else 2), BasicBlock(planes, planes, 1)))
            inp = planes
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(inp, num_classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def to_state(arrays):
    return {k: torch.from_numpy(v) for k, v in arrays.items()}


def setup(workload, fixtures):
    if workload == "resnet":
        sd0 = to_state(load_safetensors(os.path.join(fixtures, "resnet18/init.safetensors.gz")))
        sd1 = to_state(load_safetensors(os.path.join(fixtures, "resnet18/final.safetensors.gz")))
        test = load_safetensors(os.path.join(fixtures, "resnet18/test_set.safetensors"))
        x = torch.from_numpy(np.concatenate([test["images_f32_nchw"]] * 2))  # the 500 images twice: 1,000
        y = torch.from_numpy(np.concatenate([test["labels"]] * 2).astype(np.int64))
        w = sd1["conv1.weight"].shape
        model = ResNet18Cifar(num_classes=sd1["fc.weight"].shape[0], width=w[0], in_channels=w[1])
        return model, sd0, sd1, x, y, 250, "multiclass"
    sd0 = to_state(load_safetensors(os.path.join(fixtures, "mlp/init.safetensors")))
    sd1 = to_state(load_safetensors(os.path.join(fixtures, "mlp/final.safetensors")))
    test = load_safetensors(os.path.join(fixtures, "mlp/test_set.safetensors"))
    x = torch.from_numpy(test["x"])
    y = torch.from_numpy(test["y"].astype(np.int64))
    sizes = [sd1["fc1.weight"].shape[1], sd1["fc1.weight"].shape[0], sd1["fc2.weight"].shape[0], sd1["fc3.weight"].shape[0]]
    return MLP(sizes), sd0, sd1, x, y, 5000, "binary"


@torch.no_grad()
def alpha_point(model, sd0, sd1, alpha, x, y, batch, kind):
    """One alpha-point; returns (seconds, float64 loss sum, correct)."""
    started = time.perf_counter()
    state = {k: ((1 - alpha) * sd0[k] + alpha * t1) if t1.is_floating_point() else t1 for k, t1 in sd1.items()}
    model.load_state_dict(state)
    model.eval()
    loss_sum, correct = 0.0, 0
    for i in range(0, len(y), batch):
        z = model(x[i:i + batch])
        labels = y[i:i + batch]
        if kind == "binary":
            losses = F.binary_cross_entropy_with_logits(z, labels.float(), reduction="none")
            correct += int(((z > 0).long() == labels).sum())
        else:
            losses = F.cross_entropy(z, labels, reduction="none")
            correct += int((z.argmax(1) == labels).sum())
        loss_sum += float(losses.double().sum())
    return time.perf_counter() - started, loss_sum, correct


def cpu_snapshot():
    """(busy, total) clock ticks of all CPUs from /proc/stat and this process's CPU time in ticks (all threads)."""
    try:
        with open("/proc/stat") as f:
            user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in f.readline().split()[1:9])
    except OSError:
        return None
    busy = user + nice + system + irq + softirq + steal
    return busy, busy + idle + iowait, time.process_time() * os.sysconf("SC_CLK_TCK")


def other_load(a, b):
    """Share of the machine (0..1) that other processes used between two snapshots; None if unknowable."""
    if a is None or b is None or b[1] - a[1] < 25 * (os.cpu_count() or 1):
        return None
    return max(0.0, (b[0] - a[0] - (b[2] - a[2])) / (b[1] - a[1]))


def wait_for_quiet(max_other, limit_s=120):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        a = cpu_snapshot()
        time.sleep(1)
        load = other_load(a, cpu_snapshot())
        if load is None or load < max_other:
            return


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--fixtures", required=True)
    p.add_argument("--workload", choices=["resnet", "mlp"], required=True)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--alpha", type=float, default=0.5)
    p.add_argument("--device", default="cpu", help="torch device, e.g. cuda (bench/gpu/run.sh)")
    p.add_argument("--max-other", type=float, default=0.1,
                   help="discard and rerun (at most --runs times) a point while which other processes used more of the CPUs")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    model, sd0, sd1, x, y, batch, kind = setup(a.workload, a.fixtures)
    if a.device != "cpu":
        # TF32 off, as the ONNX Runtime side runs with NVIDIA_TF32_OVERRIDE=0: float32 as on the CPU.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        model, x, y = model.to(a.device), x.to(a.device), y.to(a.device)
    alpha_point(model, sd0, sd1, a.alpha, x, y, batch, kind)  # warm-up
    times, loads, discarded, loss_sum, correct = [], [], 0, 0.0, 0
    while len(times) < a.runs:
        before = cpu_snapshot()
        t, loss_sum, correct = alpha_point(model, sd0, sd1, a.alpha, x, y, batch, kind)
        load = other_load(before, cpu_snapshot())
        if load is not None and load > a.max_other and discarded < a.runs:
            discarded += 1
            wait_for_quiet(a.max_other)
            continue
        times.append(t * 1000)
        if load is not None:
            loads.append(load)
    ms = statistics.median(times)
    print(json.dumps({
        "workload": a.workload,
        "device": a.device,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "threads": torch.get_num_threads(),
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
        "runs": a.runs,
        "times_ms": times,
        "discarded": discarded,
        "other_load": max(loads) if loads else None,
        "median_ms": ms,
        "images_per_s": len(y) * 1000 / ms,
        "loss": loss_sum / len(y),
        "correct": correct,
        "n": len(y),
    }))


if __name__ == "__main__":
    sys.exit(main())
