import { Field, Float, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';

export enum AlphaChoiceEnum {
  GRID = 'GRID',
  REFINEMENT = 'REFINEMENT',
}
registerEnumType(AlphaChoiceEnum, {
  name: 'AlphaChoice',
  description: 'How the α of a stored point was chosen.',
  valuesConfig: {
    GRID: { description: 'A request asked for it (its alphas).' },
    REFINEMENT: { description: 'Adaptive α: proposed around a peak of the curve by a request with refine.' },
  },
});

export enum RefineCurveEnum {
  LOSS = 'LOSS',
  ERROR = 'ERROR',
}
registerEnumType(RefineCurveEnum, {
  name: 'RefineCurve',
  description: 'A curve whose interior peaks are refined.',
  valuesConfig: {
    LOSS: { description: 'The mean loss: its local maxima (barriers).' },
    ERROR: { description: 'The error, 1 − accuracy: its local maxima (the minima of the accuracy).' },
  },
});

export enum RefinementStatusEnum {
  REFINING = 'REFINING',
  CONVERGED = 'CONVERGED',
  BUDGET = 'BUDGET',
}
registerEnumType(RefinementStatusEnum, {
  name: 'RefinementStatus',
  valuesConfig: {
    REFINING: { description: 'A peak is not known to the tolerance yet and the budget has room: more α follow.' },
    CONVERGED: { description: "Every interior peak's α and height are known to the tolerance (or there is none)." },
    BUDGET: { description: 'maxPoints points are stored in the range before every peak was known to the tolerance.' },
  },
});

@InputType({
  description:
    "Adaptive α: after the grid, points around each interior local maximum until the peak's α and height are known to `tolerance` or the grid's range holds `maxPoints` points.",
})
export class RefineInput {
  @Field(() => Float, {
    defaultValue: 1e-3,
    description: "Absolute tolerance on the peak's α and on its height (in the curve's units), from 1e-8 to 1.",
  })
  tolerance!: number;

  @Field(() => Int, {
    nullable: true,
    description:
      "The most points in the grid's range, the grid's and those stored before included. Default min(64, LINPATH_MAX_ALPHAS).",
  })
  maxPoints?: number | null;

  @Field(() => [RefineCurveEnum], {
    defaultValue: [RefineCurveEnum.LOSS],
    description: 'The curves whose peaks are refined, sharing the budget.',
  })
  curves!: RefineCurveEnum[];
}

@ObjectType({ description: 'The best stored point of an interior peak.' })
export class RefinedPeak {
  @Field(() => RefineCurveEnum)
  curve!: RefineCurveEnum;

  @Field(() => Float)
  alpha!: number;

  @Field(() => Float, { description: "The curve's value there: mean loss, or error (1 − accuracy)." })
  value!: number;
}

@ObjectType({ description: 'Where the adaptive α of a request with refine stands.' })
export class PathRefinement {
  @Field(() => RefinementStatusEnum)
  status!: RefinementStatusEnum;

  @Field(() => Float)
  tolerance!: number;

  @Field(() => Int)
  maxPoints!: number;

  @Field(() => [RefinedPeak])
  peaks!: RefinedPeak[];
}
