import onnxProto, { type onnx as OnnxTypes } from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { buildMlp } from '../../src/compute/architectures/mlp.js';
import { buildResnetCifar } from '../../src/compute/architectures/resnet-cifar.js';
import { buildVggCifar } from '../../src/compute/architectures/vgg-cifar.js';
import type { ModelGraph, OpKind } from '../../src/compute/model-ir.js';
import { lowerToOnnx } from '../../src/compute/onnx/onnx.lowering.js';
import { mobileOpsGraph } from '../helpers/mobile-ops.js';

const { onnx } = onnxProto;

const ALL_OPS: OpKind[] = [
  'linear',
  'conv2d',
  'batchnorm',
  'relu',
  'add',
  'maxpool2d',
  'global_avgpool',
  'flatten',
  'hardswish',
  'hardsigmoid',
  'sigmoid',
  'clip',
  'mul',
  'global_avgpool_keep',
];

const mlp = buildMlp([
  { name: 'fc1.weight', dtype: 'F32', shape: [50, 2] },
  { name: 'fc1.bias', dtype: 'F32', shape: [50] },
  { name: 'fc2.weight', dtype: 'F32', shape: [1, 50] },
  { name: 'fc2.bias', dtype: 'F32', shape: [1] },
]);
const resnet18 = buildResnetCifar('resnet18-cifar', [2, 2, 2, 2], { width: 64, classes: 10, inChannels: 3 });
const vgg11 = buildVggCifar('vgg11-bn-cifar', { classes: 10, inChannels: 3 });

function decode(graph: ModelGraph) {
  const lowered = lowerToOnnx(graph);
  return { ...lowered, proto: onnx.ModelProto.decode(lowered.model) };
}

const attribute = (node: OnnxTypes.INodeProto, name: string) => {
  const a = node.attribute?.find((x) => x.name === name);
  if (a === undefined) throw new Error(`no attribute ${name} on ${node.name}`);
  return a.ints?.length ? a.ints.map(Number) : a.type === onnx.AttributeProto.AttributeType.FLOAT ? a.f : Number(a.i);
};

const dims = (info: OnnxTypes.IValueInfoProto) =>
  info.type!.tensorType!.shape!.dim!.map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue)));

describe('lowerToOnnx', () => {
  it('lowers every IR op kind (across the MLP, ResNet-18, VGG-11 and mobile-ops graphs) to its ONNX op', () => {
    const graphs = [mlp, resnet18, vgg11, mobileOpsGraph()];
    const kinds = new Set(graphs.flatMap((g) => g.nodes.map((n) => n.op)));
    expect([...kinds].sort()).toEqual([...ALL_OPS].sort());

    const opTypes = new Set(graphs.flatMap((g) => decode(g).proto.graph!.node!.map((n) => n.opType)));
    expect([...opTypes].sort()).toEqual(
      [
        'Add',
        'BatchNormalization',
        'Clip',
        'Constant',
        'Conv',
        'Flatten',
        'Gemm',
        'GlobalAveragePool',
        'HardSigmoid',
        'HardSwish',
        'MaxPool',
        'Mul',
        'Relu',
        'Sigmoid',
      ].sort(),
    );
  });

  it('makes x [N, ...inputShape] and the float state tensors the graph inputs, and the logits [N, outputs] the output', () => {
    const { proto, stateInputs } = decode(resnet18);
    const g = proto.graph!;
    expect(Number(proto.opsetImport![0]!.version)).toBe(17);
    const floats = resnet18.state.filter((s) => s.kind === 'float').map((s) => s.name);
    expect(stateInputs).toEqual(floats); // state_dict order, num_batches_tracked left out
    expect(stateInputs).toHaveLength(102);
    expect(g.input!.map((i) => i.name)).toEqual(['x', ...floats]);
    expect(dims(g.input![0]!)).toEqual(['N', 3, 32, 32]);
    expect(dims(g.input!.find((i) => i.name === 'layer2.0.conv1.weight')!)).toEqual([128, 64, 3, 3]);
    expect(g.output!.map((o) => [o.name, dims(o)])).toEqual([[resnet18.output, ['N', 10]]]);
    expect(g.initializer).toHaveLength(0);
  });

  it('names ONNX values as the IR values and carries the attributes over', () => {
    const { proto } = decode(resnet18);
    const nodes = proto.graph!.node!;
    const irOutputs = new Set(resnet18.nodes.map((n) => n.output));
    // Every IR value is an ONNX value of the same name; the only extra one is the pooled [N, C, 1, 1].
    const onnxOutputs = nodes.map((n) => n.output![0]!);
    expect(onnxOutputs.filter((o) => !irOutputs.has(o))).toEqual([
      `${resnet18.nodes.find((n) => n.op === 'global_avgpool')!.output}/pooled`,
    ]);

    const downsample = nodes.find((n) => n.opType === 'Conv' && n.input!.includes('layer2.0.downsample.0.weight'))!;
    expect(attribute(downsample, 'kernel_shape')).toEqual([1, 1]);
    expect(attribute(downsample, 'strides')).toEqual([2, 2]);
    expect(attribute(downsample, 'pads')).toEqual([0, 0, 0, 0]);
    const conv = nodes.find((n) => n.input!.includes('layer3.0.conv1.weight'))!;
    expect(attribute(conv, 'pads')).toEqual([1, 1, 1, 1]);
    expect(conv.input).toHaveLength(2); // no bias
    const bn = nodes.find((n) => n.opType === 'BatchNormalization')!;
    expect(bn.input).toEqual(['conv1:0', 'bn1.weight', 'bn1.bias', 'bn1.running_mean', 'bn1.running_var']);
    expect(attribute(bn, 'epsilon')).toBeCloseTo(1e-5, 12);
    const gemm = nodes.find((n) => n.opType === 'Gemm')!;
    expect(gemm.input).toEqual([expect.stringMatching(/^avgpool:/), 'fc.weight', 'fc.bias']);
    expect(attribute(gemm, 'transB')).toBe(1);

    const vggNodes = decode(vgg11).proto.graph!.node!;
    const pool = vggNodes.find((n) => n.opType === 'MaxPool')!;
    expect([attribute(pool, 'kernel_shape'), attribute(pool, 'strides'), attribute(pool, 'pads')]).toEqual([
      [2, 2],
      [2, 2],
      [0, 0, 0, 0],
    ]);
    expect(vggNodes.find((n) => n.opType === 'Conv')!.input).toEqual(['x', 'features.0.weight', 'features.0.bias']);
  });

  it('is deterministic: the same graph lowers to the same bytes', () => {
    expect(Buffer.from(lowerToOnnx(resnet18).model).equals(Buffer.from(lowerToOnnx(resnet18).model))).toBe(true);
  });

  it('rejects an internally inconsistent graph, naming the op and what is wrong', () => {
    const base: ModelGraph = { ...mlp, nodes: [...mlp.nodes] };
    const onFourD: ModelGraph = {
      ...base,
      inputShape: [1, 2, 1],
    };
    expect(() => lowerToOnnx(onFourD)).toThrow(
      /linear "fc1:0" \(block fc1\) expects a 2-D \[N, in\] input, got rank 4/,
    );

    const undeclared: ModelGraph = { ...base, state: base.state.filter((s) => s.name !== 'fc2.bias') };
    expect(() => lowerToOnnx(undeclared)).toThrow(
      /reads state tensor "fc2.bias", which the graph's state does not declare/,
    );

    const unordered: ModelGraph = { ...base, nodes: [...base.nodes].reverse() };
    expect(() => lowerToOnnx(unordered)).toThrow(/reads "relu:1", which no earlier op computes/);
  });
});
