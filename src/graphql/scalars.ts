import { GraphQLScalarType } from 'graphql';
import { GraphQLJSON as ScalarsJSON, GraphQLJSONObject as ScalarsJSONObject } from 'graphql-scalars';

/**
 * `JSON` and `JSONObject`, as graphql-scalars defines them, except that an object written inline in a query
 * arrives as an ordinary object. graphql-scalars builds those with `Object.create(null)`, which drizzle (and any
 * code that asks for a value's constructor) cannot handle; values passed as variables were never affected.
 */
export const GraphQLJSON = withPlainObjects(ScalarsJSON);
export const GraphQLJSONObject = withPlainObjects(ScalarsJSONObject);

function withPlainObjects(scalar: GraphQLScalarType): GraphQLScalarType {
  const config = scalar.toConfig();
  return new GraphQLScalarType({
    ...config,
    parseLiteral: (ast, variables) => plain(config.parseLiteral(ast, variables)),
  });
}

/** A deep copy in which every object has Object.prototype; `Object.fromEntries` keeps a "__proto__" key as data. */
function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, plain(item)]));
  }
  return value;
}
