#!/usr/bin/python3
"""PyTorch references for loss planes and curves (docs/landscape-arithmetic.md, test/fixtures/landscape/README.md).

Run with Debian's PyTorch (python3-torch 1.13) after the direction files exist:
    export LINPATH_FIXTURES=../shared/fixtures      # mlp/ and resnet18/ (see their README.md)
    npx tsx test/fixtures/landscape/write-directions.ts mlp test/fixtures/landscape/mlp-directions.safetensors
    npx tsx test/fixtures/landscape/write-directions.ts resnet18 test/fixtures/generated/landscape/resnet18-directions.safetensors
    /usr/bin/python3 scripts/make-landscape-fixtures.py
(the script runs the two writers itself when their files are missing).

Everything linpath computes is re-implemented here in torch float32, independently of the TypeScript code:
* the combination theta = sum_i c_i * theta_i: c_i = float32(coef_i) (coef_i in float64 by the formulas below),
  acc = c_0 * t_0, then acc = acc + c_i * t_i, every operation a float32 torch op, terms in the documented order;
  num_batches_tracked from the last state;
* coefficients: plane through A, B, C (1 - x - y, x, y) with 1 - x - y = (1 - x) - y; direction plane around w:
  (x, y, 1) of (d_x, d_y, w) (Li et al.'s w + (x d_x + y d_y)); Bezier ((1-t)^2, 2t(1-t), t^2) and polychain
  (max(0, 1 - |2t - k|), k = 0, 1, 2) of (A, bend, B) (Garipov et al., curves.py), in float64;
* Li et al.'s filter normalisation (net_plotter.normalize_directions_for_weights, norm='filter'): for each tensor
  of dim <= 1 zero it (ignore='biasbn') or copy the weights; else for each filter d_i (dim 0)
  d_i *= ||w_i|| / (||d_i|| + 1e-10) in torch float32, as their code does. Applied to the RAW directions
  linpath wrote; compared with linpath's normalised directions over every value; the planes themselves are
  evaluated along linpath's normalised directions (so both sides combine the same bits);
* the orthogonalised plane (Garipov et al., plane.py): k = <C - A, B - A> / ||B - A||^2 in numpy float64, point
  (x, y) -> plane point (x - k y, y).
Models, data, losses and BatchNorm (eval mode, running statistics combined like every float tensor) are those of
test/fixtures/make_fixtures.py, imported from there.

Writes test/fixtures/landscape/mlp.json, mlp-directions-torch.safetensors, resnet18.json (small, committed).
"""
import argparse
import hashlib
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import torch

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
_spec = importlib.util.spec_from_file_location("make_fixtures", os.path.join(ROOT, "test/fixtures/make_fixtures.py"))
mf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mf)

MLP_GRID = [-0.5, 0.0, 0.5, 1.0, 1.5]
DIRECTION_GRID = [-1.0, -0.5, 0.0, 0.5, 1.0]
CURVE_TS = [0.0, 0.25, 0.5, 0.75, 1.0]
RESNET_IMAGES = 50
RESNET_BEZIER_TS = [0.25, 0.5, 0.75]
RESNET_POLYCHAIN_TS = [0.25, 0.75]
# The ResNet bend: the midpoint of init and final moved by half the x direction.
RESNET_BEND = [0.5, 0.5, 0.5]
NEAR = 1e-4
SAMPLES_PER_TENSOR = 16


# ---------------------------------------------------------------------------- the documented arithmetic
def plane(x, y):
    return [(1 - x) - y, x, y]


def direction_plane(x, y):
    return [x, y, 1.0]


def bezier(t):
    u = 1 - t
    return [u * u, 2 * t * u, t * t]


def polychain(t):
    return [max(0.0, 1 - abs(2 * t - k)) for k in range(3)]


def combine(states, coefficients):
    """sum_i c_i * theta_i in float32 torch ops, in order; integer tensors from the last state."""
    cs = [torch.tensor(c, dtype=torch.float32) for c in coefficients]
    out = {}
    for name, last in states[-1].items():
        if not last.is_floating_point():
            out[name] = last.clone()
            continue
        acc = cs[0] * states[0][name]
        for c, s in zip(cs[1:], states[1:]):
            acc = acc + c * s[name]
        out[name] = acc
    return out


def filter_normalize(raw, weights, low_dimension, scope_names):
    """Li et al.'s rule on a copy of the raw direction (torch float32)."""
    out = {}
    for name, d in raw.items():
        d = d.clone()
        w = weights[name]
        if name not in scope_names:
            d.zero_()
        elif d.dim() <= 1:
            if low_dimension == "zero":
                d.fill_(0)
            else:
                d.copy_(w)
        else:
            for di, wi in zip(d, w):
                di.mul_(wi.norm() / (di.norm() + 1e-10))
        out[name] = d
    return out


def sha256(direction):
    h = hashlib.sha256()
    for t in direction.values():
        h.update(t.contiguous().numpy().astype("<f4").tobytes())
    return h.hexdigest()


# ---------------------------------------------------------------------------- inputs
def fixture(rel):
    roots = [os.environ.get("LINPATH_FIXTURES"), os.path.join(ROOT, "test/fixtures"),
             os.path.join(ROOT, "test/fixtures/generated")]
    for r in roots:
        if r and os.path.exists(os.path.join(ROOT, r, rel)):
            return os.path.join(ROOT, r, rel)
    sys.exit(f"fixture {rel} not found (set LINPATH_FIXTURES, see test/helpers/fixtures.ts)")


def load(rel):
    return mf.load_safetensors(fixture(rel))[0]


def directions_file(model, path):
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        subprocess.run(["npx", "tsx", "test/fixtures/landscape/write-directions.ts", model, path], cwd=ROOT, check=True)
    tensors, meta = mf.load_safetensors(path)
    split = {key: {} for key in ("raw_x", "raw_y", "x", "y")}
    for name, t in tensors.items():
        key, tensor = name.split("/", 1)
        split[key][tensor] = t
    return split, {k: (json.loads(v) if k in ("x", "y") else v) for k, v in meta.items()}


def scope_names(state, param_names, scope):
    return {n for n, t in state.items() if t.is_floating_point() and (n in param_names or scope == "states")}


def check_direction(raw, linpath, weights, axis, param_names, seed_rng):
    names = scope_names(weights, param_names, axis["scope"])
    torch_dir = filter_normalize(raw, weights, axis["lowDimension"], names)
    max_rel, max_abs, worst_norm = 0.0, 0.0, 0.0
    samples = []
    for name, t in torch_dir.items():
        a, b = t.double(), linpath[name].double()
        diff = (a - b).abs()
        max_abs = max(max_abs, float(diff.max()) if diff.numel() else 0.0)
        max_rel = max(max_rel, float((diff / a.abs().clamp_min(1e-30)).max()) if diff.numel() else 0.0)
        if t.dim() >= 2 and name in names:
            for di, wi in zip(t.double(), weights[name].double()):
                worst_norm = max(worst_norm, abs(float(di.norm() / wi.norm()) - 1) if wi.norm() > 0 else 0.0)
        n = t.numel()
        picks = np.arange(n) if n <= SAMPLES_PER_TENSOR else np.sort(seed_rng.choice(n, SAMPLES_PER_TENSOR, replace=False))
        flat = t.reshape(-1)
        samples += [[name, int(i), float(flat[int(i)])] for i in picks]
    return torch_dir, {
        "sha256Raw": sha256(raw), "sha256Linpath": sha256(linpath), "maxRelativeDiff": max_rel,
        "maxAbsoluteDiff": max_abs, "samples": samples, "worstFilterNormError": worst_norm,
    }


# ---------------------------------------------------------------------------- evaluation
@torch.no_grad()
def point_binary(model, state, x, y, extra):
    loss, correct, z = mf.eval_binary(model, state, x, y)
    m = z.abs()
    return {**extra, "loss": loss, "correct": correct, "n": len(y), "minMargin": float(m.min()),
            "nearBoundary": int((m < NEAR).sum())}


@torch.no_grad()
def point_multiclass(model, state, x, y, extra):
    loss, correct, z = mf.eval_multiclass(model, state, x, y, bs=RESNET_IMAGES)
    top2 = z.topk(2, dim=1).values
    m = top2[:, 0] - top2[:, 1]
    return {**extra, "loss": loss, "correct": correct, "n": len(y), "minMargin": float(m.min()),
            "nearBoundary": int((m < NEAR).sum()), "logits": [float(v) for v in z.reshape(-1)]}


def grid_points(evaluate, states, xs, ys, coefficients):
    return [evaluate(combine(states, coefficients(x, y)), {"x": x, "y": y, "coefficients": coefficients(x, y)})
            for y in ys for x in xs]


def curve_points(evaluate, states, ts, coefficients):
    return [evaluate(combine(states, coefficients(t)), {"t": t, "coefficients": coefficients(t)}) for t in ts]


def orthogonal_axes(a, b, c, names):
    uu = uv = vv = 0.0
    for n in names:
        u = b[n].double().numpy() - a[n].double().numpy()
        v = c[n].double().numpy() - a[n].double().numpy()
        uu += float(np.dot(u.ravel(), u.ravel()))
        uv += float(np.dot(u.ravel(), v.ravel()))
        vv += float(np.dot(v.ravel(), v.ravel()))
    k = uv / uu
    return k, uu ** 0.5, max(0.0, vv - k * uv) ** 0.5


# ---------------------------------------------------------------------------- models
def make_mlp(out):
    init, final, epoch5 = (load(f"mlp/{n}.safetensors") for n in ("init", "final", "epoch5"))
    test = load("mlp/test_set.safetensors")
    x, y = test["x"], test["y"]
    model = mf.MLP()
    params = {n for n, _ in model.named_parameters()}
    evaluate = lambda state, extra: point_binary(model, state, x, y, extra)  # noqa: E731

    dirs, meta = directions_file("mlp", os.path.join(out, "mlp-directions.safetensors"))
    rng = np.random.default_rng(2026)
    torch_x, check_x = check_direction(dirs["raw_x"], dirs["x"], final, meta["x"], params, rng)
    torch_y, check_y = check_direction(dirs["raw_y"], dirs["y"], final, meta["y"], params, rng)
    mf.save_safetensors(os.path.join(out, "mlp-directions-torch.safetensors"),
                        {**{f"x/{n}": t for n, t in torch_x.items()}, **{f"y/{n}": t for n, t in torch_y.items()}},
                        {"written_by": "scripts/make-landscape-fixtures.py"})

    k, x_len, y_len = orthogonal_axes(init, final, epoch5, [n for n, t in init.items() if t.is_floating_point()])
    orth = [(0.5, 0.5), (1.0, 1.0), (0.5, -0.5)]
    three = [init, final, epoch5]
    ref = {
        "config": {"model": "mlp", "examples": "mlp/test_set.safetensors (5000)", "directions": meta,
                   "torch": torch.__version__},
        "directions": {"x": check_x, "y": check_y},
        "planes": {
            "three": {"states": ["init", "final", "epoch5"],
                      "points": grid_points(evaluate, three, MLP_GRID, MLP_GRID, plane)},
            "orthogonal": {"states": ["init", "final", "epoch5"], "projection": k, "xLength": x_len, "yLength": y_len,
                           "points": [evaluate(combine(three, plane(px - k * py, py)),
                                               {"x": px, "y": py, "coefficients": plane(px - k * py, py)})
                                      for px, py in orth]},
            "directions": {"states": ["x", "y", "final"],
                           "points": grid_points(evaluate, [dirs["x"], dirs["y"], final], DIRECTION_GRID,
                                                 DIRECTION_GRID, direction_plane)},
        },
        "curves": {
            "bezier": {"kind": "BEZIER", "states": ["init", "epoch5", "final"],
                       "points": curve_points(evaluate, [init, epoch5, final], CURVE_TS, bezier)},
            "polychain": {"kind": "POLYCHAIN", "states": ["init", "epoch5", "final"],
                          "points": curve_points(evaluate, [init, epoch5, final], CURVE_TS, polychain)},
        },
    }
    with open(os.path.join(out, "mlp.json"), "w") as f:
        json.dump(ref, f, indent=1)
    print(f"mlp: directions max rel diff x {check_x['maxRelativeDiff']:.2e} y {check_y['maxRelativeDiff']:.2e}, "
          f"k {k:.6f}")


def make_resnet(out, generated):
    init = load("resnet18/init.safetensors.gz")
    final = load("resnet18/final.safetensors.gz")
    test = load("resnet18/test_set.safetensors")
    x, y = test["images_f32_nchw"][:RESNET_IMAGES], test["labels"][:RESNET_IMAGES]
    model = mf.ResNet18Cifar()
    params = {n for n, _ in model.named_parameters()}
    evaluate = lambda state, extra: point_multiclass(model, state, x, y, extra)  # noqa: E731

    dirs, meta = directions_file("resnet18", os.path.join(generated, "resnet18-directions.safetensors"))
    rng = np.random.default_rng(2027)
    _, check_x = check_direction(dirs["raw_x"], dirs["x"], final, meta["x"], params, rng)
    _, check_y = check_direction(dirs["raw_y"], dirs["y"], final, meta["y"], params, rng)
    # Directions carry the float tensors only; combine takes the names (and num_batches_tracked) of the last state.
    dx, dy = dirs["x"], dirs["y"]
    bend = combine([init, final, dx], RESNET_BEND)
    ref = {
        "config": {"model": "resnet18", "examples": f"resnet18/test_set.safetensors, first {RESNET_IMAGES}",
                   "directions": meta, "bend": "combine([init, final, x], [0.5, 0.5, 0.5])",
                   "torch": torch.__version__},
        "directions": {"x": check_x, "y": check_y},
        "planes": {
            "directions": {"states": ["x", "y", "final"],
                           "points": grid_points(evaluate, [dx, dy, final], DIRECTION_GRID, DIRECTION_GRID,
                                                 direction_plane)},
        },
        "curves": {
            "bezier": {"kind": "BEZIER", "states": ["init", "bend", "final"],
                       "points": curve_points(evaluate, [init, bend, final], RESNET_BEZIER_TS, bezier)},
            "polychain": {"kind": "POLYCHAIN", "states": ["init", "bend", "final"],
                          "points": curve_points(evaluate, [init, bend, final], RESNET_POLYCHAIN_TS, polychain)},
        },
    }
    with open(os.path.join(out, "resnet18.json"), "w") as f:
        json.dump(ref, f, separators=(",", ":"))
    print(f"resnet18: directions max rel diff x {check_x['maxRelativeDiff']:.2e} y {check_y['maxRelativeDiff']:.2e}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=os.path.join(ROOT, "test/fixtures/landscape"))
    p.add_argument("--generated", default=os.path.join(ROOT, "test/fixtures/generated/landscape"))
    p.add_argument("--only", choices=["mlp", "resnet18"])
    a = p.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    if a.only in (None, "mlp"):
        make_mlp(a.out)
    if a.only in (None, "resnet18"):
        make_resnet(a.out, a.generated)


if __name__ == "__main__":
    main()
