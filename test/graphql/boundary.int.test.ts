import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postGraphql, startTestApp, type TestApp } from '../helpers/app.js';

/**
 * The request boundary against what an attacker sends, over HTTP on a real server at its default limits:
 * each case answers with a coded error, and /healthz keeps answering.
 */
describe('request boundary', () => {
  let test: TestApp;
  let url: string;
  const healthz = async () => (await fetch(url.replace(/\/graphql$/, '/healthz'))).status;

  beforeAll(async () => {
    test = await startTestApp({ LINPATH_WORKERS: '0' });
    url = test.http.url;
  });
  afterAll(async () => {
    await test?.close();
  });

  const SCHEMA_FRAGMENT = `fragment F on __Schema { types { name fields { name args { name type { name kind ofType { name kind } } } } } }`;
  const aliasedSchema = (n: number) =>
    `{${Array.from({ length: n }, (_, i) => `a${i}:__schema{...F}`).join(' ')}} ${SCHEMA_FRAGMENT}`;

  it('C1: refuses 2,000 aliased __schema with BAD_USER_INPUT (LINPATH_MAX_ROOT_FIELDS), and stays up', async () => {
    const { status, body } = await postGraphql(url, aliasedSchema(2000));
    expect(status).toBe(400);
    expect(body.data).toBeUndefined();
    expect(body.errors).toEqual([
      {
        message: expect.stringContaining('(LINPATH_MAX_ROOT_FIELDS; aliases and fragments included), got 33 or more'),
        extensions: { code: 'BAD_USER_INPUT' },
      },
    ]);
    expect(await healthz()).toBe(200);
  });

  it('C1: refuses 20,000 aliased __schema (429 KB) before validating them (LINPATH_MAX_QUERY_TOKENS)', async () => {
    const query = aliasedSchema(20_000);
    expect(query.length).toBeGreaterThan(400_000);
    const [answer, health] = await Promise.all([postGraphql(url, query), healthz()]);
    expect(answer.status).toBe(400);
    expect(answer.body.errors).toEqual([
      {
        message: expect.stringContaining('tokens. Parsing aborted. (LINPATH_MAX_QUERY_TOKENS'),
        locations: expect.any(Array),
        extensions: { code: 'GRAPHQL_PARSE_FAILED' },
      },
    ]);
    expect(health).toBe(200);
    expect(await healthz()).toBe(200);
  });

  it("C1: answers GraphiQL's and codegen's introspection query at the default limits", async () => {
    for (const query of [
      getIntrospectionQuery(),
      getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true, schemaDescription: true }),
    ]) {
      const { status, body } = await postGraphql(url, query);
      expect(status).toBe(200);
      expect(body.errors).toBeUndefined();
      expect(body.data.__schema.types.map((type: { name: string }) => type.name)).toContain('Run');
    }
  });
});
