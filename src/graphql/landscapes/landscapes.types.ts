import { Field, Float, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { EvaluationState, InterpolationPath, MeasuredPoint } from '../paths/paths.types.js';

export enum CurveKindEnum {
  BEZIER = 'BEZIER',
  POLYCHAIN = 'POLYCHAIN',
}
registerEnumType(CurveKindEnum, {
  name: 'CurveKind',
  description: 'A curve from `from` through `bend` to `to` (Garipov et al. 2018).',
  valuesConfig: {
    BEZIER: { description: 'Quadratic Bezier: (1 − t)²·from + 2t(1 − t)·bend + t²·to.' },
    POLYCHAIN: { description: 'Two straight segments, from → bend for t ≤ ½ and bend → to after.' },
  },
});

export enum PlaneKindEnum {
  THREE_STATES = 'THREE_STATES',
  DIRECTIONS = 'DIRECTIONS',
}
registerEnumType(PlaneKindEnum, {
  name: 'PlaneKind',
  valuesConfig: {
    THREE_STATES: { description: 'Through three checkpoints: θ = A + x·(B − A) + y·(C − A).' },
    DIRECTIONS: { description: 'Around a centre along two directions: θ = w + x·d_x + y·d_y (Li et al. 2018).' },
  },
});

export enum DirectionScopeEnum {
  WEIGHTS = 'WEIGHTS',
  STATES = 'STATES',
}
registerEnumType(DirectionScopeEnum, {
  name: 'DirectionScope',
  valuesConfig: {
    WEIGHTS: {
      description: "Parameters only; running statistics get a zero direction (Li et al.'s dir_type 'weights').",
    },
    STATES: { description: "Every float tensor, running statistics too (dir_type 'states')." },
  },
});

export enum LowDimensionRuleEnum {
  ZERO = 'ZERO',
  KEEP = 'KEEP',
}
registerEnumType(LowDimensionRuleEnum, {
  name: 'LowDimensionRule',
  description: 'What a direction does on tensors of at most one dimension (biases, BatchNorm γ and β).',
  valuesConfig: {
    ZERO: { description: "They do not move (Li et al.'s ignore='biasbn')." },
    KEEP: { description: "The direction copies the weights there (Li et al.'s default)." },
  },
});

@ObjectType({ description: 'What a plane or curve costs: known before anything is queued (dryRun).' })
export class LandscapeCost {
  @Field(() => Int)
  points!: number;

  @Field(() => Int, { description: 'Points stored already (shared with every plane or curve over the same states).' })
  stored!: number;

  @Field(() => Int)
  toCompute!: number;

  @Field(() => Int)
  examplesPerPoint!: number;

  @Field(() => Int, {
    nullable: true,
    description: 'bnStats RECOMPUTE: examples of the statistics pass run before every point; null otherwise.',
  })
  bnStatsExamplesPerPoint!: number | null;

  @Field(() => Float, { description: 'Forward passes of the points to compute, in examples.' })
  forwardExamples!: number;

  @Field(() => Float, { description: 'Seconds of one worker (more workers share the chunks).' })
  estimatedSeconds!: number;

  @Field(() => String, { description: 'STORED_POINTS (their mean time) or MODEL_SIZE (parameters × examples).' })
  estimatedFrom!: string;

  @Field(() => String)
  note!: string;
}

@ObjectType()
export class PlaneMarker {
  @Field(() => String, { description: 'A, B, C (three states) or CENTER.' })
  label!: string;

  @Field(() => ID)
  checkpointId!: string;

  @Field(() => Float)
  x!: number;

  @Field(() => Float)
  y!: number;
}

@ObjectType()
export class PlaneAxes {
  @Field(() => Float, { description: 'k = ⟨C − A, B − A⟩ / ‖B − A‖² over every float tensor.' })
  projection!: number;

  @Field(() => Float, { description: '‖B − A‖: one unit of x.' })
  xLength!: number;

  @Field(() => Float, { description: '‖(C − A) − k·(B − A)‖: one unit of y on the orthogonalised plane.' })
  yLength!: number;

  @Field(() => Boolean)
  orthogonal!: boolean;
}

@ObjectType()
export abstract class LandscapePoint extends MeasuredPoint {
  @Field(() => [Float], { description: 'The float32 coefficients of the states, in the order of `states`.' })
  coefficients!: number[];
}

@ObjectType()
export class PlanePoint extends LandscapePoint {
  @Field(() => Int)
  i!: number;

  @Field(() => Int)
  j!: number;

  @Field(() => Float)
  x!: number;

  @Field(() => Float)
  y!: number;
}

@ObjectType({ description: 'The loss over a grid of a plane of parameter space.' })
export class LossPlane extends EvaluationState {
  @Field(() => ID, {
    nullable: true,
    description: 'The combination its points belong to (follow it with planeUpdated).',
  })
  id!: string | null;

  @Field(() => PlaneKindEnum)
  kind!: PlaneKindEnum;

  @Field(() => [ID], { description: 'The combined states in coefficient order: (A, B, C) or (d_x, d_y, centre).' })
  states!: string[];

  @Field(() => [Float])
  xs!: number[];

  @Field(() => [Float])
  ys!: number[];

  @Field(() => [[Float]], {
    description: 'loss[j][i] at (xs[i], ys[j]); null where pending (or diverged: see points).',
    nullable: 'itemsAndList',
  })
  loss!: Array<Array<number | null>>;

  @Field(() => [[Float]], { description: 'accuracy[j][i]; null where pending.', nullable: 'itemsAndList' })
  accuracy!: Array<Array<number | null>>;

  @Field(() => [PlanePoint], { description: 'The stored grid points.' })
  points!: PlanePoint[];

  @Field(() => [PlaneMarker])
  markers!: PlaneMarker[];

  @Field(() => Boolean, { description: 'Whether the straight line A → B lies in the plane (three states: on y = 0).' })
  lineInPlane!: boolean;

  @Field(() => PlaneAxes, { nullable: true, description: 'Three states only.' })
  axes!: PlaneAxes | null;

  @Field(() => LandscapeCost)
  cost!: LandscapeCost;
}

@ObjectType()
export class CurvePoint extends LandscapePoint {
  @Field(() => Float)
  t!: number;
}

@ObjectType({ description: 'The loss along a curve through a bend, with the straight line next to it.' })
export class CurvePath extends EvaluationState {
  @Field(() => ID)
  id!: string;

  @Field(() => CurveKindEnum)
  kind!: CurveKindEnum;

  @Field(() => [CurvePoint], { description: 'Stored points in t order.' })
  points!: CurvePoint[];

  @Field(() => [Float])
  ts!: number[];

  @Field(() => InterpolationPath, {
    description:
      "The straight line from → to over the same ts (a path, memoized as paths are); its `barrier` is the one to compare with the curve's.",
  })
  line!: InterpolationPath;

  @Field(() => LandscapeCost)
  cost!: LandscapeCost;
}

@ObjectType()
export class PlaneUpdate extends EvaluationState {
  @Field(() => ID)
  planeId!: string;

  @Field(() => PlanePoint, { nullable: true, description: 'The point just stored; null in the last update.' })
  point!: PlanePoint | null;
}
