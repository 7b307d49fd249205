import { INPUT, type ModelGraph } from '../model-ir.js';
import { GraphBuilder } from './graph-builder.js';

/**
 * ResNet with BasicBlocks for 32×32 inputs, named as torchvision's `resnet18`/`resnet34`: a 3×3 stride-1
 * stem (`conv1`, `bn1`) without max-pool, four stages `layer1`..`layer4` of widths w, 2w, 4w, 8w (the
 * first block of stages 2-4 has stride 2 and a 1×1 `downsample` shortcut), global average pool, `fc`.
 */
export function buildResnetCifar(
  architecture: string,
  blocksPerStage: readonly [number, number, number, number],
  options: { width: number; classes: number; inChannels: number },
): ModelGraph {
  const b = new GraphBuilder();
  const { width, classes, inChannels } = options;
  b.inBlock('stem');
  let x = b.conv2d(INPUT, 'conv1', { in: inChannels, out: width }, [3, 3], [1, 1], [1, 1]);
  x = b.relu(b.batchnorm(x, 'bn1', width));

  let channels = width;
  blocksPerStage.forEach((count, stage) => {
    const layer = `layer${stage + 1}`;
    const planes = width * 2 ** stage;
    b.inBlock(layer);
    for (let i = 0; i < count; i++) {
      const stride = stage > 0 && i === 0 ? 2 : 1;
      const prefix = `${layer}.${i}`;
      let y = b.conv2d(x, `${prefix}.conv1`, { in: channels, out: planes }, [3, 3], [stride, stride], [1, 1]);
      y = b.relu(b.batchnorm(y, `${prefix}.bn1`, planes));
      y = b.conv2d(y, `${prefix}.conv2`, { in: planes, out: planes }, [3, 3], [1, 1], [1, 1]);
      y = b.batchnorm(y, `${prefix}.bn2`, planes);
      let shortcut = x;
      if (stride !== 1 || channels !== planes) {
        shortcut = b.conv2d(
          x,
          `${prefix}.downsample.0`,
          { in: channels, out: planes },
          [1, 1],
          [stride, stride],
          [0, 0],
        );
        shortcut = b.batchnorm(shortcut, `${prefix}.downsample.1`, planes);
      }
      x = b.relu(b.add(y, shortcut));
      channels = planes;
    }
  });

  b.inBlock('fc');
  const features = b.globalAvgpool(x);
  const logits = b.linear(features, 'fc', channels, classes);
  return {
    architecture,
    inputShape: [inChannels, 32, 32],
    output: logits,
    outputs: classes,
    nodes: b.nodes,
    state: b.state,
    blocks: ['stem', 'layer1', 'layer2', 'layer3', 'layer4', 'fc'],
    aliases: { stem: ['conv1', 'bn1'] },
  };
}
