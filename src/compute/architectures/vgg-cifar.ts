import { INPUT, type ModelGraph } from '../model-ir.js';
import { GraphBuilder } from './graph-builder.js';

/** torchvision's configuration "A" (VGG-11): conv widths, with M for a 2×2 max-pool. */
const VGG11: ReadonlyArray<number | 'M'> = [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'];

/**
 * VGG-11 with BatchNorm for 32×32 inputs, `features` named as torchvision's `vgg11_bn` (Conv2d 3×3 pad 1
 * at index i, BatchNorm2d at i+1, ReLU at i+2, MaxPool2d as its own index), then flatten (512×1×1) and a
 * single `classifier` Linear(512, classes). Blocks: each conv with its BatchNorm (`features.0` stands for
 * `features.0` + `features.1`, …) and `classifier`.
 */
export function buildVggCifar(architecture: string, options: { classes: number; inChannels: number }): ModelGraph {
  const b = new GraphBuilder();
  let x = INPUT;
  let channels = options.inChannels;
  let index = 0;
  const blocks: string[] = [];
  const aliases: Record<string, string[]> = {};
  for (const item of VGG11) {
    if (item === 'M') {
      x = b.maxpool2d(x, [2, 2], [2, 2]);
      index += 1;
      continue;
    }
    const block = `conv${blocks.length + 1}`;
    blocks.push(block);
    aliases[block] = [`features.${index}`, `features.${index + 1}`];
    b.inBlock(block);
    x = b.conv2d(x, `features.${index}`, { in: channels, out: item }, [3, 3], [1, 1], [1, 1], true);
    x = b.relu(b.batchnorm(x, `features.${index + 1}`, item));
    channels = item;
    index += 3;
  }
  b.inBlock('classifier');
  const logits = b.linear(b.flatten(x), 'classifier', channels, options.classes);
  blocks.push('classifier');
  return {
    architecture,
    inputShape: [options.inChannels, 32, 32],
    output: logits,
    outputs: options.classes,
    nodes: b.nodes,
    state: b.state,
    blocks,
    aliases,
  };
}
