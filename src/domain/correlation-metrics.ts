/**
 * What a correlation can put on its axes: x, a barrier metric of each run's path (of the loss, or of the error
 * 1 − accuracy) or a distance between its end points; y, test or train accuracy, error or loss, or a reported
 * metric. Pure: the API and the dashboard list the same ones.
 */
export const X_METRICS = [
  'FRANKLE_HEIGHT',
  'HEIGHT_ABOVE_ENDPOINTS',
  'MLI_DELTA',
  'ALPHA_AT_MAX',
  'MONOTONIC',
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
