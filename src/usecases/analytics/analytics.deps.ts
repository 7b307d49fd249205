import { badUserInput } from '../../errors.js';
import type { AnalyticsRepository } from '../../storage/analytics.repository.js';
import type { EndpointDeps } from '../paths/endpoint-selectors.js';
import type { PathDeps } from '../paths/paths.deps.js';

export interface AnalyticsDeps {
  paths: PathDeps;
  analytics: AnalyticsRepository;
  limits: AnalyticsLimits;
  /** Draws the seeded random end points of a correlation (`randomSeed`); absent: they are refused. */
  randomInit?: EndpointDeps['randomInit'];
}

export interface AnalyticsLimits {
  /** Most blocks of one block-wise request, each one path (LINPATH_MAX_BLOCKS). */
  maxBlocks: number;
  /** Most runs one correlation or report takes (LINPATH_MAX_CORRELATION_RUNS). */
  maxCorrelationRuns: number;
  /** Most evaluations (paths, distances) one report or correlation may queue: its maxEvaluations (LINPATH_MAX_REQUEST_EVALUATIONS). */
  maxRequestEvaluations: number;
}

export const DEFAULT_ANALYTICS_LIMITS: AnalyticsLimits = {
  maxBlocks: 256,
  maxCorrelationRuns: 1000,
  maxRequestEvaluations: 1000,
};

/** Checks a request's maxEvaluations against its bound. */
export function checkEvaluationBudget(budget: number, limits: AnalyticsLimits): void {
  if (!Number.isInteger(budget) || budget < 0 || budget > limits.maxRequestEvaluations) {
    throw badUserInput(
      `maxEvaluations: expected an integer from 0 to ${limits.maxRequestEvaluations} (LINPATH_MAX_REQUEST_EVALUATIONS), got ${budget}`,
    );
  }
}
