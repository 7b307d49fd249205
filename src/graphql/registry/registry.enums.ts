import { registerEnumType } from 'type-graphql';

export enum CheckpointRoleEnum {
  INITIAL = 'INITIAL',
  INTERMEDIATE = 'INTERMEDIATE',
  FINAL = 'FINAL',
  DERIVED = 'DERIVED',
}
registerEnumType(CheckpointRoleEnum, {
  name: 'CheckpointRole',
  description: 'Where a checkpoint sits in its run. A run has at most one INITIAL and one FINAL checkpoint.',
  valuesConfig: {
    INITIAL: { description: 'The state before training (θ_0).' },
    INTERMEDIATE: { description: 'A state saved during training.' },
    FINAL: { description: 'The state at the end of training (θ_T).' },
    DERIVED: { description: 'A state computed by linpath from other checkpoints.' },
  },
});

export enum DatasetSplitEnum {
  TRAIN = 'TRAIN',
  VALIDATION = 'VALIDATION',
  TEST = 'TEST',
}
registerEnumType(DatasetSplitEnum, { name: 'DatasetSplit' });

export enum LabelKindEnum {
  CLASS_INDEX = 'CLASS_INDEX',
  FLOAT_TARGET = 'FLOAT_TARGET',
}
registerEnumType(LabelKindEnum, {
  name: 'LabelKind',
  valuesConfig: {
    CLASS_INDEX: { description: 'Integer class labels of shape [N]; numClasses = max label + 1.' },
    FLOAT_TARGET: { description: 'Float targets of shape [N] or [N, K].' },
  },
});

export enum DatasetFormatEnum {
  SAFETENSORS = 'SAFETENSORS',
  CIFAR10_BINARY = 'CIFAR10_BINARY',
  MNIST_IDX = 'MNIST_IDX',
}
registerEnumType(DatasetFormatEnum, {
  name: 'DatasetFormat',
  description: 'How a dataset is stored.',
  valuesConfig: {
    SAFETENSORS: { description: 'One safetensors file: inputs [N, ...] (float or U8) and labels [N] under two keys.' },
    CIFAR10_BINARY: {
      description:
        'CIFAR-10 binary (*_batch.bin, or several concatenated): 3073-byte records, a label 0..9 then a [3, 32, 32] U8 image.',
    },
    MNIST_IDX: {
      description: 'An IDX images file [N, H, W] U8 (magic 0x00000803) and an IDX labels file [N] (magic 0x00000801).',
    },
  },
});

export enum InputLayoutEnum {
  NCHW = 'NCHW',
  NHWC = 'NHWC',
}
registerEnumType(InputLayoutEnum, {
  name: 'InputLayout',
  description: 'Axis order of stored image examples; linpath always feeds models channels-first (NCHW).',
  valuesConfig: {
    NCHW: { description: 'Examples stored [C, H, W].' },
    NHWC: { description: 'Examples stored [H, W, C] (e.g. numpy/PIL images); transposed at load.' },
  },
});

export enum RunOrderFieldEnum {
  CREATED_AT = 'CREATED_AT',
  NAME = 'NAME',
  REPORTED_METRIC = 'REPORTED_METRIC',
  HYPERPARAMETER = 'HYPERPARAMETER',
  TEST_ACCURACY = 'TEST_ACCURACY',
  TEST_LOSS = 'TEST_LOSS',
  TRAIN_ACCURACY = 'TRAIN_ACCURACY',
  TRAIN_LOSS = 'TRAIN_LOSS',
}
registerEnumType(RunOrderFieldEnum, {
  name: 'RunOrderField',
  valuesConfig: {
    CREATED_AT: { description: 'Creation order.' },
    NAME: { description: 'Run name.' },
    REPORTED_METRIC: { description: 'A numeric reported metric, at orderBy.path.' },
    HYPERPARAMETER: { description: 'A numeric hyper-parameter, at orderBy.path.' },
    TEST_ACCURACY: {
      description: 'Run.testAccuracy as stored (nothing is evaluated to sort); runs without one sort last.',
    },
    TEST_LOSS: { description: 'Run.testLoss as stored; runs without one sort last.' },
    TRAIN_ACCURACY: { description: 'Run.trainAccuracy as stored; runs without one sort last.' },
    TRAIN_LOSS: { description: 'Run.trainLoss as stored; runs without one sort last.' },
  },
});

export enum SortDirectionEnum {
  ASC = 'ASC',
  DESC = 'DESC',
}
registerEnumType(SortDirectionEnum, { name: 'SortDirection' });
