import { fileURLToPath } from 'node:url';

/** The PyTorch-made reference fixtures, beside the checkout (../shared/fixtures). */
export const fixturePath = (relative: string): string =>
  fileURLToPath(new URL(`../../../shared/fixtures/${relative}`, import.meta.url));
