import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The dashboard (index.html) and GraphiQL (graphiql.html), bundled with every asset so that they work
// without network access; the server serves dist/web at / and GraphiQL at GET /graphql.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    chunkSizeWarningLimit: 4096,
    rollupOptions: {
      // React libraries inside GraphiQL carry "use client" directives, which mean nothing in a plain bundle.
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
      },
      input: {
        index: fileURLToPath(new URL('index.html', import.meta.url)),
        graphiql: fileURLToPath(new URL('graphiql.html', import.meta.url)),
      },
    },
  },
});
