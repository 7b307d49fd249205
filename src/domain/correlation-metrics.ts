/**
 * What a correlation can put on its axes: x, a barrier metric of each run's path (of the loss, or of the error
 * 1 − accuracy) or a distance between its end points; y, test or train accuracy, error or loss, or a reported
 * metric. Pure: the API and the dashboard list the same ones.
 */
export const X_METRICS = [
  'RISE',
  'RISE_ABOVE_START',
  'FRANKLE_HEIGHT',
  'HEIGHT_ABOVE_ENDPOINTS',
  'MLI_DELTA',
  'ALPHA_AT_MAX',
  'MONOTONIC',
  'ERROR_RISE',
  'ERROR_RISE_ABOVE_START',
  'ERROR_FRANKLE_HEIGHT',
  'ERROR_HEIGHT_ABOVE_ENDPOINTS',
  'ERROR_MLI_DELTA',
  'ERROR_ALPHA_AT_MAX',
  'ERROR_MONOTONIC',
  'DISTANCE_LAYERWISE_NORMALIZED',
  'DISTANCE_L2',
  'DISTANCE_RELATIVE_L2',
  'DISTANCE_COSINE',
] as const;
export type XMetric = (typeof X_METRICS)[number];
/**
 * The default x: the rise of the loss above both end points, the seed paper's barrier. The Frankle height,
 * the default before, is ≈ ½(L(0) − L(1)) on any decaying init → final curve: it correlates with how far the
 * loss fell, not with a barrier.
 */
export const DEFAULT_X_METRIC: XMetric = 'RISE';

export const Y_METRICS = [
  'TEST_ACCURACY',
  'TEST_LOSS',
  'TEST_ERROR',
  'TRAIN_ACCURACY',
  'TRAIN_LOSS',
  'TRAIN_ERROR',
  'REPORTED',
] as const;
export type YMetric = (typeof Y_METRICS)[number];
