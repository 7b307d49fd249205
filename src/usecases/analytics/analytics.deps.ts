import type { AnalyticsRepository } from '../../storage/analytics.repository.js';
import type { PathDeps } from '../paths/paths.deps.js';

export interface AnalyticsDeps {
  paths: PathDeps;
  analytics: AnalyticsRepository;
  limits: AnalyticsLimits;
}

export interface AnalyticsLimits {
  /** Most blocks of one block-wise request, each one path (LINPATH_MAX_BLOCKS). */
  maxBlocks: number;
  /** Most runs one correlation or report takes (LINPATH_MAX_CORRELATION_RUNS). */
  maxCorrelationRuns: number;
}

export const DEFAULT_ANALYTICS_LIMITS: AnalyticsLimits = { maxBlocks: 256, maxCorrelationRuns: 1000 };
