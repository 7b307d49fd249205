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
