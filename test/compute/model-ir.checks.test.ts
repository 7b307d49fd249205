import { describe, expect, it } from 'vitest';
import { buildMlp } from '../../src/compute/architectures/mlp.js';
import { buildResnetCifar } from '../../src/compute/architectures/resnet-cifar.js';
import { buildVggCifar } from '../../src/compute/architectures/vgg-cifar.js';
import { checkGraph, type ModelGraph } from '../../src/compute/model-ir.js';
import { lowerToOnnx } from '../../src/compute/onnx/onnx.lowering.js';
import { lowerToTfjs } from '../../src/compute/tfjs/tfjs.lowering.js';

const mlp = buildMlp([
  { name: 'fc1.weight', dtype: 'F32', shape: [50, 2] },
  { name: 'fc1.bias', dtype: 'F32', shape: [50] },
  { name: 'fc2.weight', dtype: 'F32', shape: [1, 50] },
  { name: 'fc2.bias', dtype: 'F32', shape: [1] },
]);

/** Graphs that break one rule each, and what the check says about them. */
const broken: Array<[string, ModelGraph, RegExp]> = [
  [
    'an op reads a value no earlier op computes',
    { ...mlp, nodes: [...mlp.nodes].reverse() },
    /reads "relu:1", which no earlier op computes/,
  ],
  [
    'a value is computed twice',
    { ...mlp, nodes: [...mlp.nodes, mlp.nodes[0]!] },
    /linear "fc1:0" \(block fc1\) computes "fc1:0" a second time/,
  ],
  [
    'a state tensor is not declared',
    { ...mlp, state: mlp.state.filter((s) => s.name !== 'fc2.bias') },
    /reads state tensor "fc2.bias", which the graph's state does not declare/,
  ],
  [
    'a state tensor is declared as an integer',
    { ...mlp, state: mlp.state.map((s) => (s.name === 'fc1.bias' ? { ...s, kind: 'int' as const } : s)) },
    /reads state tensor "fc1.bias", which the graph's state declares as int, expected float/,
  ],
  ['the output is computed by no op', { ...mlp, output: 'logits' }, /the output "logits" is computed by no op/],
];

describe('checkGraph', () => {
  it('passes the graphs the builders make', () => {
    for (const graph of [
      mlp,
      buildResnetCifar('resnet18-cifar', [2, 2, 2, 2], { width: 16, classes: 10, inChannels: 3 }),
      buildVggCifar('vgg11-bn-cifar', { classes: 10, inChannels: 3 }),
    ])
      expect(() => checkGraph(graph, 'test')).not.toThrow();
  });

  it.each(broken)('refuses a graph where %s, naming the op', (_case, graph, message) => {
    expect(() => checkGraph(graph, 'test')).toThrow(message);
    expect(() => checkGraph(graph, 'test')).toThrow(/^test: /);
  });

  it('refuses an output of another rank than [N, outputs]', () => {
    const flat = buildResnetCifar('resnet18-cifar', [2, 2, 2, 2], { width: 16, classes: 10, inChannels: 3 });
    const pooledBefore = flat.nodes.findIndex((n) => n.op === 'global_avgpool');
    const conv = flat.nodes.slice(0, pooledBefore).at(-1)!;
    const truncated: ModelGraph = { ...flat, nodes: flat.nodes.slice(0, pooledBefore), output: conv.output };
    expect(() => checkGraph(truncated, 'test')).toThrow(
      new RegExp(
        `the output "${conv.output.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}" has rank 4, expected 2 \\(\\[N, 10\\]\\)`,
      ),
    );
  });

  it('is what both lowerings check, each naming itself', () => {
    for (const [, graph, message] of broken) {
      expect(() => lowerToOnnx(graph)).toThrow(message);
      expect(() => lowerToOnnx(graph)).toThrow(/^lowerToOnnx: /);
      expect(() => lowerToTfjs(graph)).toThrow(message);
      expect(() => lowerToTfjs(graph)).toThrow(/^lowerToTfjs: /);
    }
  });
});
