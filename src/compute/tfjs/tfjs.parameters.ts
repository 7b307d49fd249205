import * as tf from '@tensorflow/tfjs-core';
import type { Node } from '../model-ir.js';

/**
 * How a state tensor is uploaded: conv filters [out, in, kh, kw] → tfjs' [kh, kw, in, out]; depthwise filters
 * [C·m, 1, kh, kw] (groups = C input channels) → tfjs' [kh, kw, C, m]; the rest as is.
 */
export type ParameterLayout = 'hwio' | 'depthwise' | 'as-is';

export interface ParameterSpec {
  name: string;
  /** PyTorch shape, as the state holds it. */
  shape: number[];
  layout: ParameterLayout;
  /** `depthwise`: the convolution's groups (its input channels). */
  groups?: number;
}

/**
 * A state tensor as the program reads it, uploaded from its PyTorch layout. The values are copied: some
 * backends (cpu, tensorflow) would otherwise keep a reference to the caller's array.
 */
export function uploadParameter(spec: ParameterSpec, values: Float32Array): tf.Tensor {
  if (spec.layout === 'depthwise') {
    const [out = 0, , kh = 0, kw = 0] = spec.shape;
    const groups = spec.groups ?? out;
    return tf.tidy(() =>
      tf.reshape(tf.transpose(tf.tensor4d(values, spec.shape as [number, number, number, number]), [2, 3, 0, 1]), [
        kh,
        kw,
        groups,
        out / groups,
      ]),
    );
  }
  if (spec.layout === 'hwio') {
    return tf.tidy(() =>
      tf.transpose(tf.tensor4d(values, spec.shape as [number, number, number, number]), [2, 3, 1, 0]),
    );
  }
  return tf.tensor(values.slice(), spec.shape, 'float32');
}

/** The inverse of `uploadParameter`: a state tensor back in its PyTorch layout (a new tensor; the caller disposes it). */
export function parameterToPytorchLayout(spec: ParameterSpec, tensor: tf.Tensor): tf.Tensor {
  if (spec.layout === 'depthwise') {
    const [out = 0, , kh = 0, kw = 0] = spec.shape;
    return tf.tidy(() => tf.transpose(tf.reshape(tensor, [kh, kw, out, 1]), [2, 3, 0, 1]));
  }
  return spec.layout === 'hwio' ? tf.transpose(tensor, [3, 2, 0, 1]) : tf.clone(tensor);
}

/** A conv filter's layout: depthwise when every group has one input channel, else HWIO (split per group). */
export function convLayout(node: Node, weightShape: readonly number[]): ParameterLayout {
  const groups = node.op === 'conv2d' ? (node.groups ?? 1) : 1;
  return groups > 1 && weightShape[1] === 1 ? 'depthwise' : 'hwio';
}
