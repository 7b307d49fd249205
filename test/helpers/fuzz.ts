import fc from 'fast-check';

/**
 * Seeds fast-check from `LINPATH_FUZZ_SEED` when it is set, so a run can be replayed whole (CI sets a seed that
 * has passed; a failure anywhere prints the seed and path that replay it). Unset, every run draws new inputs.
 */
export function seedFuzzFromEnvironment(): void {
  const text = process.env['LINPATH_FUZZ_SEED'];
  if (text === undefined || text === '') return;
  const seed = Number(text);
  if (!Number.isSafeInteger(seed))
    throw new Error(`LINPATH_FUZZ_SEED: expected an integer, got ${JSON.stringify(text)}`);
  fc.configureGlobal({ ...fc.readConfigureGlobal(), seed });
}
