import { INPUT, type ModelGraph, type Node } from '../../src/compute/model-ir.js';

/**
 * The IR ops user architectures brought (grouped and depthwise convolutions, HardSwish, HardSigmoid, Sigmoid,
 * Clip, Mul, GlobalAveragePool keeping H and W) in one small graph, and their float64 NCHW interpretation
 * straight from model-ir.ts, for the engines' op tests.
 *
 * x [N, 4, 6, 6] → conv 3×3 groups 2 → hardswish → depthwise conv 3×3 stride 2 (×2 channels) → clip [−1, 2]
 * → squeeze-excitation (global mean kept [N, 8, 1, 1] → 1×1 conv → hardsigmoid → mul) → sigmoid → mean → linear → [N, 3].
 */
export function mobileOpsGraph(): ModelGraph {
  const nodes: Node[] = [
    conv(INPUT, 'g', 'grouped.weight', 'grouped.bias', [1, 1], 2),
    { op: 'hardswish', input: 'g', output: 'hs', block: 'grouped' },
    conv('hs', 'd', 'depthwise.weight', undefined, [2, 2], 4),
    { op: 'clip', input: 'd', output: 'cl', min: -1, max: 2, block: 'depthwise' },
    { op: 'global_avgpool_keep', input: 'cl', output: 'se0', block: 'se' },
    conv('se0', 'se1', 'se.weight', 'se.bias', [1, 1], 1, [1, 1], [0, 0]),
    { op: 'hardsigmoid', input: 'se1', output: 'se2', alpha: 1 / 6, beta: 0.5, block: 'se' },
    { op: 'mul', inputs: ['se2', 'cl'], output: 'scaled', block: 'se' },
    { op: 'sigmoid', input: 'scaled', output: 'sg', block: 'se' },
    { op: 'global_avgpool', input: 'sg', output: 'pooled', block: 'head' },
    { op: 'linear', input: 'pooled', output: 'logits', weight: 'head.weight', bias: 'head.bias', block: 'head' },
  ];
  const shapes: Record<string, number[]> = {
    'grouped.weight': [4, 2, 3, 3],
    'grouped.bias': [4],
    'depthwise.weight': [8, 1, 3, 3],
    'se.weight': [8, 8, 1, 1],
    'se.bias': [8],
    'head.weight': [3, 8],
    'head.bias': [3],
  };
  return {
    architecture: 'mobile-ops',
    inputShape: [4, 6, 6],
    output: 'logits',
    outputs: 3,
    nodes,
    state: Object.entries(shapes).map(([name, shape]) => ({ name, shape, kind: 'float' as const })),
    blocks: ['grouped', 'depthwise', 'se', 'head'],
    aliases: {},
  };
}

function conv(
  input: string,
  output: string,
  weight: string,
  bias: string | undefined,
  stride: [number, number],
  groups: number,
  kernel: [number, number] = [3, 3],
  padding: [number, number] = [1, 1],
): Node {
  const block = weight.split('.')[0]!;
  return { op: 'conv2d', input, output, weight, bias, kernel, stride, padding, groups, block };
}

export interface PlainValue {
  shape: number[];
  data: ArrayLike<number>;
}

/**
 * The value of one of the ops above (a grouped convolution included; a plain one too), or undefined for an op kind
 * the calling interpreter handles itself.
 */
export function interpretMobileOp(
  node: Node,
  get: (name: string) => PlainValue,
  param: (name: string) => ArrayLike<number>,
): { shape: number[]; data: number[] } | undefined {
  const map = (input: string, f: (z: number) => number) => {
    const { shape, data } = get(input);
    return { shape, data: Array.from(data, f) };
  };
  switch (node.op) {
    case 'hardswish':
      return map(node.input, (z) => (z * Math.min(Math.max(z + 3, 0), 6)) / 6);
    case 'hardsigmoid':
      return map(node.input, (z) => Math.max(0, Math.min(1, node.alpha * z + node.beta)));
    case 'sigmoid':
      return map(node.input, (z) => 1 / (1 + Math.exp(-z)));
    case 'clip':
      return map(node.input, (z) => Math.min(Math.max(z, node.min), node.max));
    case 'mul': {
      const [a, b] = node.inputs.map(get) as [PlainValue, PlainValue];
      const shape = a.shape.map((d, i) => Math.max(d, b.shape[i]!));
      const at = (v: PlainValue, index: number[]) =>
        v.data[index.reduce((flat, i, axis) => flat * v.shape[axis]! + (v.shape[axis] === 1 ? 0 : i), 0)]!;
      const size = shape.reduce((x, y) => x * y, 1);
      const data: number[] = [];
      for (let flat = 0; flat < size; flat++) {
        const index: number[] = [];
        let rest = flat;
        for (let axis = shape.length - 1; axis >= 0; axis--) {
          index.unshift(rest % shape[axis]!);
          rest = Math.floor(rest / shape[axis]!);
        }
        data.push(at(a, index) * at(b, index));
      }
      return { shape, data };
    }
    case 'global_avgpool_keep': {
      const { shape, data } = get(node.input);
      const [n, c, h, w] = shape as [number, number, number, number];
      const out: number[] = [];
      for (let i = 0; i < n * c; i++) {
        let sum = 0;
        for (let k = 0; k < h * w; k++) sum += data[i * h * w + k]!;
        out.push(sum / (h * w));
      }
      return { shape: [n, c, 1, 1], data: out };
    }
    case 'conv2d': {
      if ((node.groups ?? 1) === 1) return undefined;
      const { shape, data } = get(node.input);
      const [n, c, h, w] = shape as [number, number, number, number];
      const weight = param(node.weight);
      const bias = node.bias === undefined ? undefined : param(node.bias);
      const [kh, kw] = node.kernel;
      const [sh, sw] = node.stride;
      const [ph, pw] = node.padding;
      const groups = node.groups!;
      const perGroup = c / groups;
      const co = weight.length / (perGroup * kh * kw);
      const ho = Math.floor((h + 2 * ph - kh) / sh) + 1;
      const wo = Math.floor((w + 2 * pw - kw) / sw) + 1;
      const out: number[] = [];
      for (let b = 0; b < n; b++)
        for (let o = 0; o < co; o++) {
          const group = Math.floor(o / (co / groups));
          for (let i = 0; i < ho; i++)
            for (let j = 0; j < wo; j++) {
              let acc = bias?.[o] ?? 0;
              for (let k = 0; k < perGroup; k++)
                for (let a = 0; a < kh; a++)
                  for (let d = 0; d < kw; d++) {
                    const y = i * sh - ph + a;
                    const z = j * sw - pw + d;
                    if (y < 0 || y >= h || z < 0 || z >= w) continue;
                    acc +=
                      data[((b * c + group * perGroup + k) * h + y) * w + z]! *
                      weight[((o * perGroup + k) * kh + a) * kw + d]!;
                  }
              out.push(acc);
            }
        }
      return { shape: [n, co, ho, wo], data: out };
    }
    default:
      return undefined;
  }
}
