import type { Logger } from 'pino';
import type { AnalyticsDeps } from '../usecases/analytics.usecases.js';
import type { Loaders } from './loaders.js';
import type { PathDeps } from '../usecases/paths.usecases.js';
import type { RegistryDeps } from '../usecases/registry.usecases.js';
import type { TrainingDeps } from '../usecases/training.usecases.js';

/** What every resolver receives: the use cases' dependencies, built once by the composition root. */
export interface GraphQLContext {
  registry: RegistryDeps;
  paths: PathDeps;
  loaders: Loaders;
  analytics: AnalyticsDeps;
  training: TrainingDeps;
  /** How often subscriptions that poll the database look again. */
  pollMs: number;
  logger: Logger;
}
