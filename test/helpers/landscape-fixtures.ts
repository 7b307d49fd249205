import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  type DirectionScope,
  type DirectionTensorSpec,
  type LowDimensionRule,
  filterNormalize,
  gaussianDirection,
  tensorRole,
} from '../../src/domain/directions.js';
import type { CheckpointFixture } from './engine-fixtures.js';
import { REPOSITORY_ROOT } from './fixtures.js';

/**
 * The loss-plane and curve references (test/fixtures/landscape/README.md): which directions they use and how the
 * JSON written by scripts/make-landscape-fixtures.py reads. The directions are drawn and normalised by linpath
 * (src/domain/directions.ts) from the seeds below; the script reads them from the files that
 * test/fixtures/landscape/write-directions.ts writes, normalises the raw ones again with torch, and evaluates.
 */

export interface AxisConfig {
  seed: number;
  scope: DirectionScope;
  lowDimension: LowDimensionRule;
}

export const LANDSCAPE_DIRECTIONS = {
  mlp: {
    centre: 'mlp/final.safetensors',
    x: { seed: 1, scope: 'weights', lowDimension: 'zero' },
    y: { seed: 2, scope: 'weights', lowDimension: 'keep' },
  },
  resnet18: {
    centre: 'resnet18/final.safetensors.gz',
    x: { seed: 11, scope: 'weights', lowDimension: 'zero' },
    y: { seed: 12, scope: 'weights', lowDimension: 'zero' },
  },
} as const satisfies Record<string, { centre: string; x: AxisConfig; y: AxisConfig }>;

export type LandscapeModel = keyof typeof LANDSCAPE_DIRECTIONS;

export const LANDSCAPE_DIR = path.join(REPOSITORY_ROOT, 'test/fixtures/landscape');

/** The tensors of a checkpoint as directions see them (roles by PyTorch's state_dict names and dtypes). */
export function directionSpecs(checkpoint: CheckpointFixture): DirectionTensorSpec[] {
  return checkpoint.tensors.map(({ name, dtype, shape }) => ({
    name,
    shape,
    role: tensorRole(name, dtype === 'F32' ? 'float' : 'int'),
  }));
}

export interface Directions {
  rawX: Map<string, Float32Array>;
  rawY: Map<string, Float32Array>;
  x: Map<string, Float32Array>;
  y: Map<string, Float32Array>;
}

/** Both axes of a model's plane, raw and filter-normalised around its centre. */
export function makeDirections(model: LandscapeModel, centre: CheckpointFixture): Directions {
  const config = LANDSCAPE_DIRECTIONS[model];
  const specs = directionSpecs(centre);
  const rawX = gaussianDirection(specs, config.x.seed);
  const rawY = gaussianDirection(specs, config.y.seed);
  return {
    rawX,
    rawY,
    x: filterNormalize(rawX, centre.state, specs, config.x),
    y: filterNormalize(rawY, centre.state, specs, config.y),
  };
}

/** sha256 of the float32 bytes of a direction, tensors in the map's (state_dict) order: what the JSON records. */
export function directionSha256(direction: ReadonlyMap<string, Float32Array>): string {
  const hash = createHash('sha256');
  for (const values of direction.values())
    hash.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  return hash.digest('hex');
}

/** One evaluated point of a reference: its coordinates, coefficients and PyTorch's numbers. */
export interface LandscapePoint {
  /** Plane coordinates (planes) or the curve parameter t (curves). */
  x?: number;
  y?: number;
  t?: number;
  coefficients: number[];
  loss: number;
  correct: number;
  n: number;
  /** Smallest decision margin over the examples (binary: |z|, multiclass: top-1 − top-2). */
  minMargin: number;
  /** Examples whose margin is below 1e-4: the most by which an engine's correct count may differ. */
  nearBoundary: number;
  /** Logits of the evaluated examples (ResNet-18 only), row-major [n, classes]. */
  logits?: number[];
}

export interface DirectionCheck {
  sha256Raw: string;
  sha256Linpath: string;
  /** Over every value: |torch − linpath| / max(|torch|, 1e-30), and the absolute difference. */
  maxRelativeDiff: number;
  maxAbsoluteDiff: number;
  /** Torch's independent normalisation at sampled indices: [tensor name, flat index, value]. */
  samples: [string, number, number][];
  /** Per normalised tensor with filters: ‖d_i‖ / ‖w_i‖ − 1 at worst over its filters (torch's result). */
  worstFilterNormError: number;
}

export interface LandscapeReference {
  config: Record<string, unknown>;
  directions: { x: DirectionCheck; y: DirectionCheck };
  planes: Record<
    string,
    { states: string[]; points: LandscapePoint[]; projection?: number; xLength?: number; yLength?: number }
  >;
  curves: Record<string, { kind: 'BEZIER' | 'POLYCHAIN'; states: string[]; points: LandscapePoint[] }>;
}

export function readLandscapeReference(model: LandscapeModel): LandscapeReference {
  return JSON.parse(readFileSync(path.join(LANDSCAPE_DIR, `${model}.json`), 'utf8')) as LandscapeReference;
}
