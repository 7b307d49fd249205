import type { Node, Op, Pair, StateTensorSpec } from '../model-ir.js';

/**
 * Builds a ModelGraph's nodes and state list in PyTorch module order: each layer helper appends its ops and
 * declares its state_dict entries exactly as `model.state_dict()` lists them.
 */
export class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly state: StateTensorSpec[] = [];
  private block = '';
  private counter = 0;

  inBlock(block: string): this {
    this.block = block;
    return this;
  }

  private emit(op: Op): string {
    this.nodes.push({ ...op, block: this.block });
    return op.output;
  }

  private value(hint: string): string {
    return `${hint}:${this.counter++}`;
  }

  private param(name: string, shape: number[], kind: StateTensorSpec['kind'] = 'float'): string {
    this.state.push({ name, shape, kind });
    return name;
  }

  linear(input: string, prefix: string, inFeatures: number, outFeatures: number, bias = true): string {
    const weight = this.param(`${prefix}.weight`, [outFeatures, inFeatures]);
    const biasName = bias ? this.param(`${prefix}.bias`, [outFeatures]) : undefined;
    return this.emit({ op: 'linear', input, output: this.value(prefix), weight, bias: biasName });
  }

  conv2d(
    input: string,
    prefix: string,
    channels: { in: number; out: number },
    kernel: Pair,
    stride: Pair,
    padding: Pair,
    bias = false,
  ): string {
    const weight = this.param(`${prefix}.weight`, [channels.out, channels.in, kernel[0], kernel[1]]);
    const biasName = bias ? this.param(`${prefix}.bias`, [channels.out]) : undefined;
    return this.emit({
      op: 'conv2d',
      input,
      output: this.value(prefix),
      weight,
      bias: biasName,
      kernel,
      stride,
      padding,
    });
  }

  /** torch.nn.BatchNorm2d/1d state: weight, bias, running_mean, running_var, num_batches_tracked. */
  batchnorm(input: string, prefix: string, channels: number, eps = 1e-5): string {
    const weight = this.param(`${prefix}.weight`, [channels]);
    const bias = this.param(`${prefix}.bias`, [channels]);
    const runningMean = this.param(`${prefix}.running_mean`, [channels]);
    const runningVar = this.param(`${prefix}.running_var`, [channels]);
    this.param(`${prefix}.num_batches_tracked`, [], 'int');
    return this.emit({
      op: 'batchnorm',
      input,
      output: this.value(prefix),
      weight,
      bias,
      runningMean,
      runningVar,
      eps,
    });
  }

  relu(input: string): string {
    return this.emit({ op: 'relu', input, output: this.value('relu') });
  }

  add(a: string, b: string): string {
    return this.emit({ op: 'add', inputs: [a, b], output: this.value('add') });
  }

  maxpool2d(input: string, kernel: Pair, stride: Pair, padding: Pair = [0, 0]): string {
    return this.emit({ op: 'maxpool2d', input, output: this.value('maxpool'), kernel, stride, padding });
  }

  globalAvgpool(input: string): string {
    return this.emit({ op: 'global_avgpool', input, output: this.value('avgpool') });
  }

  flatten(input: string): string {
    return this.emit({ op: 'flatten', input, output: this.value('flatten') });
  }
}
