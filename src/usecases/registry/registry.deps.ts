import type { ObjectStore } from '../../storage/object-store.js';
import type { RegistryRepository } from '../../storage/registry.repository.js';

/** What the registry use cases (runs, checkpoints, datasets) work with. */
export interface RegistryDeps {
  repository: RegistryRepository;
  store: ObjectStore;
  maxHeaderBytes: number;
}
