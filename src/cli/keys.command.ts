import { Option, type Command } from 'commander';
import type { Linpath } from '../app.js';
import {
  API_KEY_SCOPES,
  createApiKey,
  keyLabel,
  listApiKeys,
  revokeApiKey,
  type ApiKeyRow,
} from '../usecases/api-keys.usecases.js';

const describeKey = (row: ApiKeyRow) => ({
  id: keyLabel(row.id),
  name: row.name,
  scope: row.scope,
  createdAt: row.createdAt.toISOString(),
  lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
  revokedAt: row.revokedAt?.toISOString() ?? null,
});

/**
 * `linpath keys create|list|revoke`: API keys for the GraphQL API. The CLI itself works on the database
 * directly (whoever can run it can read the configuration) and needs no key.
 */
export function addKeysCommand(
  program: Command,
  withLinpath: (work: (app: Linpath) => Promise<void>) => Promise<void>,
): void {
  const keys = program
    .command('keys')
    .description('Create, list and revoke API keys for the GraphQL API (stored as sha256; the CLI itself needs none).');

  keys
    .command('create')
    .description('Create a key and print it once: read (queries), write (also mutations), admin (everything).')
    .addOption(new Option('--scope <scope>', 'what the key may do').choices([...API_KEY_SCOPES]).makeOptionMandatory())
    .option('--name <name>', 'a note on who or what uses the key')
    .addHelpText(
      'after',
      '\nPrints one JSON object as its last line: {"key":"lp_…","id","name","scope",…}. The key is not shown again.',
    )
    .action(async (options: { scope: string; name?: string }) => {
      await withLinpath(async (app) => {
        const { key, row } = await createApiKey(app.apiKeys, { scope: options.scope, name: options.name });
        process.stderr.write('linpath: the key is shown once; store it now (only its sha256 is kept)\n');
        process.stdout.write(`${JSON.stringify({ key, ...describeKey(row) })}\n`);
      });
    });

  keys
    .command('list')
    .description('List keys (ids, scopes, last use, revocation); never their secrets.')
    .addHelpText(
      'after',
      '\nPrints one JSON object as its last line: {"keys":[{"id","name","scope","createdAt","lastUsedAt","revokedAt"}]}',
    )
    .action(async () => {
      await withLinpath(async (app) => {
        process.stdout.write(`${JSON.stringify({ keys: (await listApiKeys(app.apiKeys)).map(describeKey) })}\n`);
      });
    });

  keys
    .command('revoke')
    .description('Revoke a key at once (by its id, lp_<id>, as `keys list` shows it); revoked keys stay listed.')
    .argument('<id>', 'the key id')
    .action(async (id: string) => {
      await withLinpath(async (app) => {
        process.stdout.write(`${JSON.stringify(describeKey(await revokeApiKey(app.apiKeys, id)))}\n`);
      });
    });
}
