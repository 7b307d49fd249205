import { describe, expect, it } from 'vitest';
import { buildModelGraph, type CheckpointTensor } from '../../src/compute/architectures/index.js';
import { INPUT, opInputs, opParameters, type ModelGraph, type Node } from '../../src/compute/model-ir.js';
import { readCheckpointFixture } from '../helpers/engine-fixtures.js';
import { RESNET18_FIXTURES, itWithFixtures } from '../helpers/fixtures.js';

/**
 * The promise in model-ir.ts's header: ops are grouped into top-level blocks in execution order, and "a value
 * that crosses a block boundary is the block's single input, so the graph can be cut there" (block-wise paths
 * reuse the activations of a prefix that does not move). `blockCutProblems` checks it on any graph; it runs on
 * every built-in architecture and, to show it can fail, on graphs that break the promise.
 */

/** Every way `graph` breaks the block promise, in words; empty when it keeps it. */
function blockCutProblems(graph: ModelGraph): string[] {
  const problems: string[] = [];
  const blocks = graph.blocks;
  if (blocks.length === 0) problems.push('graph.blocks is empty');
  if (new Set(blocks).size !== blocks.length) problems.push(`graph.blocks has duplicates: [${blocks.join(', ')}]`);
  const blockIndex = new Map(blocks.map((b, i) => [b, i]));
  const stateSpecs = new Map(graph.state.map((s) => [s.name, s]));
  if (stateSpecs.size !== graph.state.length) problems.push('graph.state names a tensor twice');

  // Execution order: the blocks of consecutive nodes, runs collapsed, are exactly graph.blocks.
  const runs: string[] = [];
  for (const node of graph.nodes) {
    if (!blockIndex.has(node.block))
      problems.push(`${node.op} → ${node.output}: block "${node.block}" is not in graph.blocks`);
    if (runs.at(-1) !== node.block) runs.push(node.block);
  }
  if (runs.join(' ') !== blocks.join(' ')) {
    problems.push(
      `blocks in execution order are [${runs.join(', ')}], expected [${blocks.join(', ')}] (each block one contiguous run)`,
    );
  }

  // Which block produced each value; the graph input belongs to no block.
  const producer = new Map<string, string | undefined>([[INPUT, undefined]]);
  for (const node of graph.nodes) {
    for (const value of opInputs(node)) {
      if (!producer.has(value)) problems.push(`${node.block}: ${node.op} reads "${value}" before any op computes it`);
      if (stateSpecs.has(value))
        problems.push(`${node.block}: ${node.op} reads state tensor "${value}" as an activation`);
    }
    if (producer.has(node.output)) problems.push(`"${node.output}" is computed twice`);
    producer.set(node.output, node.block);
  }
  if (producer.get(graph.output) !== blocks.at(-1)) {
    problems.push(
      `output "${graph.output}" comes from block ${String(producer.get(graph.output))}, expected the last block ${String(blocks.at(-1))}`,
    );
  }

  // Each block reads exactly one value computed outside it, and that value is the previous block's (or x).
  const consumers = new Map<string, Set<string>>();
  for (const node of graph.nodes) {
    for (const value of opInputs(node)) {
      if (!consumers.has(value)) consumers.set(value, new Set());
      consumers.get(value)!.add(node.block);
    }
  }
  blocks.forEach((block, index) => {
    // The cut before this block: what is computed before it and read at or after it.
    const live = [...producer.keys()].filter((value) => {
      const from = producer.get(value);
      const fromIndex = from === undefined ? -1 : (blockIndex.get(from) ?? -1);
      return fromIndex < index && [...(consumers.get(value) ?? [])].some((b) => (blockIndex.get(b) ?? -1) >= index);
    });
    if (live.length !== 1)
      problems.push(`cut before ${block} carries [${live.join(', ')}], expected exactly one value`);
    const outside = new Set<string>();
    for (const node of graph.nodes) {
      if (node.block !== block) continue;
      for (const value of opInputs(node)) if (producer.get(value) !== block) outside.add(value);
    }
    if (outside.size !== 1) {
      problems.push(
        `block ${block} reads ${outside.size} values computed outside it: [${[...outside].join(', ')}], expected 1`,
      );
      return;
    }
    const [input] = [...outside] as [string];
    const expectedProducer = index === 0 ? undefined : blocks[index - 1];
    if (producer.get(input) !== expectedProducer) {
      problems.push(
        `block ${block} reads "${input}" from ${producer.get(input) ?? 'the graph input'}, expected it from ${expectedProducer ?? 'the graph input'}`,
      );
    }
  });

  // State: each float tensor an op reads is read by one block only; every tensor (num_batches_tracked
  // included, which no op reads) falls under exactly one block's prefixes, the block that reads it.
  const readers = new Map<string, Set<string>>();
  for (const node of graph.nodes) {
    for (const name of opParameters(node)) {
      const spec = stateSpecs.get(name);
      if (spec === undefined) problems.push(`${node.block}: ${node.op} reads "${name}", which is not in graph.state`);
      else if (spec.kind !== 'float') problems.push(`${node.block}: ${node.op} reads int tensor "${name}"`);
      if (!readers.has(name)) readers.set(name, new Set());
      readers.get(name)!.add(node.block);
    }
  }
  const prefixes = (block: string) => graph.aliases[block] ?? [block];
  for (const spec of graph.state) {
    const owners = blocks.filter((block) => prefixes(block).some((p) => spec.name.startsWith(`${p}.`)));
    if (owners.length !== 1)
      problems.push(`state "${spec.name}" falls under ${owners.length} blocks [${owners.join(', ')}], expected 1`);
    const reading = [...(readers.get(spec.name) ?? [])];
    if (spec.kind === 'float' && reading.length !== 1) {
      problems.push(`state "${spec.name}" is read by ${reading.length} blocks [${reading.join(', ')}], expected 1`);
    }
    if (reading.length === 1 && owners.length === 1 && reading[0] !== owners[0]) {
      problems.push(`state "${spec.name}" is named for block ${owners[0]} but read by block ${reading[0]}`);
    }
  }
  return problems;
}

/** torchvision-style state_dict names and shapes, written out independently of the graph builders. */
function batchnormTensors(prefix: string, channels: number): CheckpointTensor[] {
  return [
    ...['weight', 'bias', 'running_mean', 'running_var'].map((key) => ({
      name: `${prefix}.${key}`,
      dtype: 'F32',
      shape: [channels],
    })),
    { name: `${prefix}.num_batches_tracked`, dtype: 'I64', shape: [] },
  ];
}

function resnetCifarTensors(stages: readonly number[], width = 64, classes = 10): CheckpointTensor[] {
  const tensors: CheckpointTensor[] = [
    { name: 'conv1.weight', dtype: 'F32', shape: [width, 3, 3, 3] },
    ...batchnormTensors('bn1', width),
  ];
  let channels = width;
  stages.forEach((count, stage) => {
    const planes = width * 2 ** stage;
    for (let i = 0; i < count; i++) {
      const prefix = `layer${stage + 1}.${i}`;
      tensors.push(
        { name: `${prefix}.conv1.weight`, dtype: 'F32', shape: [planes, channels, 3, 3] },
        ...batchnormTensors(`${prefix}.bn1`, planes),
      );
      tensors.push(
        { name: `${prefix}.conv2.weight`, dtype: 'F32', shape: [planes, planes, 3, 3] },
        ...batchnormTensors(`${prefix}.bn2`, planes),
      );
      if (channels !== planes) {
        tensors.push(
          { name: `${prefix}.downsample.0.weight`, dtype: 'F32', shape: [planes, channels, 1, 1] },
          ...batchnormTensors(`${prefix}.downsample.1`, planes),
        );
      }
      channels = planes;
    }
  });
  tensors.push(
    { name: 'fc.weight', dtype: 'F32', shape: [classes, channels] },
    { name: 'fc.bias', dtype: 'F32', shape: [classes] },
  );
  return tensors;
}

function vgg11BnTensors(classes = 10): CheckpointTensor[] {
  const tensors: CheckpointTensor[] = [];
  let channels = 3;
  let index = 0;
  for (const item of [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'] as const) {
    if (item === 'M') {
      index += 1;
      continue;
    }
    tensors.push(
      { name: `features.${index}.weight`, dtype: 'F32', shape: [item, channels, 3, 3] },
      { name: `features.${index}.bias`, dtype: 'F32', shape: [item] },
      ...batchnormTensors(`features.${index + 1}`, item),
    );
    channels = item;
    index += 3;
  }
  tensors.push(
    { name: 'classifier.weight', dtype: 'F32', shape: [classes, channels] },
    { name: 'classifier.bias', dtype: 'F32', shape: [classes] },
  );
  return tensors;
}

/** A hand-made graph of Linear layers on [4]: `blocks` gives each layer's block, in order; `edit` may break it. */
function tinyGraph(layerBlocks: readonly string[], edit: (nodes: Node[]) => Node[] = (n) => n): ModelGraph {
  const nodes: Node[] = [];
  let value = INPUT;
  layerBlocks.forEach((block, i) => {
    nodes.push({
      op: 'linear',
      input: value,
      output: `h${i}`,
      weight: `${block}.l${i}.weight`,
      bias: undefined,
      block,
    });
    nodes.push({ op: 'relu', input: `h${i}`, output: `r${i}`, block });
    value = `r${i}`;
  });
  const edited = edit(nodes);
  const names = [...new Set(edited.flatMap((n) => opParameters(n)))];
  return {
    architecture: 'tiny',
    inputShape: [4],
    output: edited.at(-1)!.output,
    outputs: 4,
    nodes: edited,
    state: names.map((name) => ({ name, shape: [4, 4], kind: 'float' as const })),
    blocks: [...new Set(layerBlocks)],
    aliases: {},
  };
}

const ARCHITECTURE_CASES = [
  {
    name: 'mlp (fixture shapes, 2-50-50-1)',
    graph: () => buildModelGraph('mlp', readCheckpointFixture('mlp/init.safetensors').tensors),
    blocks: ['fc1', 'fc2', 'fc3'],
  },
  {
    name: 'resnet34-cifar',
    graph: () => buildModelGraph('resnet34-cifar', resnetCifarTensors([3, 4, 6, 3])),
    blocks: ['stem', 'layer1', 'layer2', 'layer3', 'layer4', 'fc'],
  },
  {
    name: 'resnet18-cifar (width 16, 100 classes)',
    graph: () => buildModelGraph('resnet18-cifar', resnetCifarTensors([2, 2, 2, 2], 16, 100)),
    blocks: ['stem', 'layer1', 'layer2', 'layer3', 'layer4', 'fc'],
  },
  {
    name: 'vgg11-bn-cifar',
    graph: () => buildModelGraph('vgg11-bn-cifar', vgg11BnTensors()),
    blocks: ['conv1', 'conv2', 'conv3', 'conv4', 'conv5', 'conv6', 'conv7', 'conv8', 'classifier'],
  },
];

describe('model IR blocks: one value crosses each block boundary', () => {
  it.each(ARCHITECTURE_CASES)('$name keeps the promise', ({ graph: build, blocks }) => {
    const graph = build();
    expect(graph.blocks).toEqual(blocks);
    expect(blockCutProblems(graph)).toEqual([]);
  });

  itWithFixtures(RESNET18_FIXTURES, 'resnet18-cifar (fixture shapes) keeps the promise', () => {
    const graph = buildModelGraph('resnet18-cifar', readCheckpointFixture('resnet18/init.safetensors.gz').tensors);
    expect(graph.blocks).toEqual(['stem', 'layer1', 'layer2', 'layer3', 'layer4', 'fc']);
    expect(blockCutProblems(graph)).toEqual([]);
  });

  it('the hand-made chain keeps it too (the checker is not always failing)', () => {
    expect(blockCutProblems(tinyGraph(['a', 'a', 'b', 'c']))).toEqual([]);
  });

  it("catches a skip connection across a block boundary (block b reads x and block a's output)", () => {
    const graph = tinyGraph(['a', 'b'], (nodes) => [
      ...nodes,
      { op: 'add', inputs: ['r1', INPUT], output: 'sum', block: 'b' },
    ]);
    expect(blockCutProblems(graph)).toEqual([
      'cut before b carries [x, r0], expected exactly one value',
      'block b reads 2 values computed outside it: [r0, x], expected 1',
    ]);
  });

  it('catches a ResNet whose layer2 shortcut reads the stem instead of layer1', () => {
    const graph = buildModelGraph('resnet18-cifar', resnetCifarTensors([2, 2, 2, 2]));
    const stemOutput = graph.nodes.filter((n) => n.block === 'stem').at(-1)!.output;
    const layer1Output = graph.nodes.filter((n) => n.block === 'layer1').at(-1)!.output;
    const nodes = graph.nodes.map((node) =>
      node.op === 'conv2d' && node.weight === 'layer2.0.downsample.0.weight' ? { ...node, input: stemOutput } : node,
    );
    expect(blockCutProblems({ ...graph, nodes })).toEqual([
      `cut before layer2 carries [${stemOutput}, ${layer1Output}], expected exactly one value`,
      `block layer2 reads 2 values computed outside it: [${layer1Output}, ${stemOutput}], expected 1`,
    ]);
  });

  it('catches blocks out of execution order and a block that comes back', () => {
    expect(blockCutProblems({ ...tinyGraph(['a', 'b']), blocks: ['b', 'a'] })).toContainEqual(
      expect.stringMatching(/^blocks in execution order are \[a, b\], expected \[b, a\]/),
    );
    expect(blockCutProblems(tinyGraph(['a', 'b', 'a']))).toContainEqual(
      expect.stringMatching(/^blocks in execution order are \[a, b, a\], expected \[a, b\]/),
    );
  });

  it('catches a state tensor read by two blocks, or falling under no block', () => {
    const shared = tinyGraph(['a', 'b'], (nodes) =>
      nodes.map((n) => (n.op === 'linear' && n.block === 'b' ? { ...n, weight: 'a.l0.weight' } : n)),
    );
    expect(blockCutProblems(shared)).toEqual(['state "a.l0.weight" is read by 2 blocks [a, b], expected 1']);
    const stray = tinyGraph(['a', 'b'], (nodes) =>
      nodes.map((n) => (n.op === 'linear' && n.block === 'b' ? { ...n, weight: 'other.weight' } : n)),
    );
    expect(blockCutProblems(stray)).toEqual(['state "other.weight" falls under 0 blocks [], expected 1']);
  });
});
