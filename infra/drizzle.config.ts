import { defineConfig } from 'drizzle-kit';

// Generates SQL migrations from the table definitions; `npm run db:generate`. Migrations are committed,
// applied at start by src/storage/database.ts on Postgres and PGlite alike, and forward-only.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/storage/*.tables.ts',
  out: './migrations',
});
