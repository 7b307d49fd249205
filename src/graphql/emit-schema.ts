import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { buildLinpathSchema, printLinpathSchema } from './schema.js';

// `npm run schema:emit`: writes the SDL that CI compares with the committed file.
const target = fileURLToPath(new URL('../../schema/schema.graphql', import.meta.url));
await writeFile(target, printLinpathSchema(await buildLinpathSchema()));
console.log(`wrote ${target}`);
