import { sql, type AnyColumn, type SQL } from 'drizzle-orm';

/**
 * `column = ANY($1::type[])`: membership in a list sent as one array parameter. The same rows as
 * `inArray(column, values)`, which sends one parameter per value: for the thousands of ids an analytics read
 * batches, that list cost more to build (in drizzle) and to parse and plan (in Postgres) than the read itself.
 */
export function anyOf(column: AnyColumn, values: readonly (string | number)[], type: 'uuid' | 'text' | 'float8'): SQL {
  return sql`${column} = any(${sql.param([...values])}::${sql.raw(type)}[])`;
}
