import { checkArchitectureFit, type CheckpointTensor } from '../../domain/architecture-fit.js';
import { badUserInput } from '../../errors.js';
import type { ModelGraph } from '../model-ir.js';
import { buildMlp } from './mlp.js';
import { buildResnetCifar } from './resnet-cifar.js';
import { buildVggCifar } from './vgg-cifar.js';

export type { CheckpointTensor };

const ARCHITECTURES = ['mlp', 'resnet18-cifar', 'resnet34-cifar', 'vgg11-bn-cifar'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];
/** The architectures linpath builds itself; any other name is one registered from an ONNX export. */
export const BUILT_IN_ARCHITECTURES: readonly string[] = ARCHITECTURES;

/** Whether linpath builds this architecture itself (and so knows its tensors before any evaluation). */
export const isBuiltInArchitecture = (name: string): name is Architecture =>
  (ARCHITECTURES as readonly string[]).includes(name);

/**
 * The graph of `architecture` sized for a checkpoint (classes, width and input channels are read from its
 * shapes), after checking that the checkpoint is one of it: every expected tensor present with its shape,
 * nothing unexpected. A mismatch lists all missing, unexpected and wrongly-shaped tensors.
 */
export function buildModelGraph(architecture: string, tensors: readonly CheckpointTensor[]): ModelGraph {
  const graph = sizeGraph(architecture, tensors);
  checkCheckpoint(graph, tensors);
  return graph;
}

function sizeGraph(architecture: string, tensors: readonly CheckpointTensor[]): ModelGraph {
  const shape = (name: string, axis: number, fallback: number): number =>
    tensors.find((t) => t.name === name)?.shape[axis] ?? fallback;
  switch (architecture as Architecture) {
    case 'mlp':
      return buildMlp(tensors);
    case 'resnet18-cifar':
    case 'resnet34-cifar': {
      const stages = architecture === 'resnet18-cifar' ? ([2, 2, 2, 2] as const) : ([3, 4, 6, 3] as const);
      return buildResnetCifar(architecture, stages, {
        width: shape('conv1.weight', 0, 64),
        inChannels: shape('conv1.weight', 1, 3),
        classes: shape('fc.weight', 0, 10),
      });
    }
    case 'vgg11-bn-cifar':
      return buildVggCifar(architecture, {
        inChannels: shape('features.0.weight', 1, 3),
        classes: shape('classifier.weight', 0, 10),
      });
    default:
      throw badUserInput(`architecture: expected one of ${ARCHITECTURES.join(', ')}, got "${architecture}"`);
  }
}

/** The shape of a model that has no checkpoint yet (a training run from a random initialisation). */
export interface NewModelShape {
  /** Per-example input shape, e.g. [2] or [3, 32, 32]. */
  inputShape: readonly number[];
  /** Logits: 1 for a binary task (binary cross-entropy), else the number of classes. */
  outputs: number;
  /** `mlp`: the hidden widths; default [50, 50] (the seed study's spiral MLP). */
  hiddenWidths?: readonly number[] | undefined;
  /** ResNets: channels of the first stage; default 64. */
  width?: number | undefined;
}

/** The graph of a new model of `architecture`; BAD_USER_INPUT when the shape does not suit it. */
export function buildNewModelGraph(architecture: string, shape: NewModelShape): ModelGraph {
  const size = shape.inputShape.reduce((a, b) => a * b, 1);
  switch (architecture as Architecture) {
    case 'mlp': {
      const widths = [size, ...(shape.hiddenWidths ?? [50, 50]), shape.outputs];
      if (widths.some((w) => !Number.isInteger(w) || w < 1 || w > 65_536)) {
        throw badUserInput(
          `hiddenWidths: expected integers from 1 to 65536, got [${(shape.hiddenWidths ?? []).join(', ')}]`,
        );
      }
      return buildMlp(
        widths.slice(1).flatMap((out, i) => [
          { name: `fc${i + 1}.weight`, dtype: 'F32', shape: [out, widths[i]!] },
          { name: `fc${i + 1}.bias`, dtype: 'F32', shape: [out] },
        ]),
      );
    }
    case 'resnet18-cifar':
    case 'resnet34-cifar':
    case 'vgg11-bn-cifar': {
      if (shape.inputShape.length !== 3) {
        throw badUserInput(
          `${architecture} takes images [C, H, W]; the dataset's examples are [${shape.inputShape.join(', ')}]`,
        );
      }
      const classes = Math.max(shape.outputs, 2);
      if (architecture === 'vgg11-bn-cifar')
        return buildVggCifar(architecture, { inChannels: shape.inputShape[0]!, classes });
      const width = shape.width ?? 64;
      if (!Number.isInteger(width) || width < 1 || width > 1024)
        throw badUserInput(`width: expected an integer from 1 to 1024, got ${width}`);
      const stages = architecture === 'resnet18-cifar' ? ([2, 2, 2, 2] as const) : ([3, 4, 6, 3] as const);
      return buildResnetCifar(architecture, stages, { width, inChannels: shape.inputShape[0]!, classes });
    }
    default:
      throw badUserInput(`architecture: expected one of ${ARCHITECTURES.join(', ')}, got "${architecture}"`);
  }
}

/** The checkpoint against the graph's state: see checkArchitectureFit. */
export function checkCheckpoint(graph: ModelGraph, tensors: readonly CheckpointTensor[]): void {
  checkArchitectureFit(graph.architecture, graph.state, tensors);
}
