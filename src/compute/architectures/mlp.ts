import { badUserInput } from '../../errors.js';
import { INPUT, type ModelGraph } from '../model-ir.js';
import { GraphBuilder } from './graph-builder.js';
import type { CheckpointTensor } from './index.js';

/**
 * A chain of Linear layers with ReLU between them (the seed study's MLP: `fc1`, `fc2`, `fc3`). The layers and
 * their widths are read from the checkpoint: every 2-D `<prefix>.weight`, in state_dict order, each with an
 * optional `<prefix>.bias`; consecutive widths must chain.
 */
export function buildMlp(tensors: readonly CheckpointTensor[]): ModelGraph {
  const layers = tensors.filter((t) => t.name.endsWith('.weight') && t.shape.length === 2);
  if (layers.length === 0) {
    throw badUserInput('architecture mlp: expected Linear layers (2-D "<name>.weight" tensors), found none');
  }
  const builder = new GraphBuilder();
  let value = INPUT;
  layers.forEach((layer, index) => {
    const prefix = layer.name.slice(0, -'.weight'.length);
    const [outFeatures = 0, inFeatures = 0] = layer.shape;
    const previous = layers[index - 1];
    if (previous !== undefined && previous.shape[0] !== inFeatures) {
      throw badUserInput(
        `architecture mlp: "${layer.name}" takes ${inFeatures} inputs but "${previous.name}" gives ${previous.shape[0]}`,
      );
    }
    const hasBias = tensors.some((t) => t.name === `${prefix}.bias`);
    builder.inBlock(prefix);
    value = builder.linear(value, prefix, inFeatures, outFeatures, hasBias);
    if (index < layers.length - 1) value = builder.relu(value);
  });
  const first = layers[0]!;
  const last = layers.at(-1)!;
  return {
    architecture: 'mlp',
    inputShape: [first.shape[1]!],
    output: value,
    outputs: last.shape[0]!,
    nodes: builder.nodes,
    state: builder.state,
    blocks: layers.map((l) => l.name.slice(0, -'.weight'.length)),
    aliases: {},
  };
}
