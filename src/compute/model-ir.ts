/**
 * An engine-neutral description of a network: a list of ops over named values, whose parameters are
 * named exactly by PyTorch `state_dict` keys. Each engine lowers it (ONNX Runtime: an ONNX graph whose state
 * tensors are graph inputs; TensorFlow.js: tfjs ops in NHWC). Layouts are PyTorch's: activations NCHW,
 * Linear weights [out, in], Conv weights [out, in, kh, kw].
 *
 * Ops are in execution order and grouped into top-level blocks (`stem`, `layer1`, …, `fc`). A value that
 * crosses a block boundary is the block's single input, so the graph can be cut there: later issues reuse
 * the activations of a prefix that does not move along a block-wise path.
 */

export type Pair = readonly [number, number];

export type Op =
  /** y = x Wᵀ + b; x [N, in]. */
  | { op: 'linear'; input: string; output: string; weight: string; bias: string | undefined }
  /** Cross-correlation as torch.nn.Conv2d, symmetric zero padding. */
  | {
      op: 'conv2d';
      input: string;
      output: string;
      weight: string;
      bias: string | undefined;
      kernel: Pair;
      stride: Pair;
      padding: Pair;
    }
  /** Eval mode: y = (x − running_mean) / sqrt(running_var + eps) · weight + bias, per channel (axis 1). */
  | {
      op: 'batchnorm';
      input: string;
      output: string;
      weight: string;
      bias: string;
      runningMean: string;
      runningVar: string;
      eps: number;
    }
  | { op: 'relu'; input: string; output: string }
  | { op: 'add'; inputs: readonly [string, string]; output: string }
  /** torch.nn.MaxPool2d without dilation or ceil mode. */
  | { op: 'maxpool2d'; input: string; output: string; kernel: Pair; stride: Pair; padding: Pair }
  /** Mean over H and W: [N, C, H, W] → [N, C] (AdaptiveAvgPool2d(1) followed by flatten). */
  | { op: 'global_avgpool'; input: string; output: string }
  /** [N, ...] → [N, prod(...)] in row-major order. */
  | { op: 'flatten'; input: string; output: string };

export type OpKind = Op['op'];

/** An op and the top-level block it belongs to. */
export type Node = Op & { block: string };

export interface StateTensorSpec {
  name: string;
  shape: number[];
  /** `float` tensors are interpolated; `int` ones (num_batches_tracked) are state the forward pass ignores. */
  kind: 'float' | 'int';
}

export interface ModelGraph {
  /** Architecture name, e.g. `resnet18-cifar`. */
  architecture: string;
  /** The graph input, always named `x`: per-example shape, e.g. [3, 32, 32] or [2]. */
  inputShape: number[];
  /** The value holding the logits, [N, outputs]. */
  output: string;
  /** Logits per example: 1 → binary cross-entropy; C > 1 → softmax cross-entropy. */
  outputs: number;
  nodes: Node[];
  /** Every state_dict entry a checkpoint of this architecture must have, in state_dict order. */
  state: StateTensorSpec[];
  /** Top-level blocks in execution order; the default set of a block-wise analysis. */
  blocks: string[];
  /** Block names that stand for several prefixes, e.g. `stem` → [`conv1`, `bn1`]. */
  aliases: Record<string, string[]>;
}

export const INPUT = 'x';

/** State tensors an op reads, in the order of its definition. */
export function opParameters(op: Op): string[] {
  switch (op.op) {
    case 'linear':
    case 'conv2d':
      return op.bias === undefined ? [op.weight] : [op.weight, op.bias];
    case 'batchnorm':
      return [op.weight, op.bias, op.runningMean, op.runningVar];
    default:
      return [];
  }
}

/** Values an op reads. */
export function opInputs(op: Op): string[] {
  return op.op === 'add' ? [...op.inputs] : [op.input];
}
