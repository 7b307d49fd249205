import {
  getArgumentValues,
  getNamedType,
  getNullableType,
  isCompositeType,
  isListType,
  isObjectType,
  isInterfaceType,
  Kind,
  valueFromASTUntyped,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  SchemaMetaFieldDef,
  TypeMetaFieldDef,
} from 'graphql';
import { badUserInput } from '../../errors.js';
import { MAX_PAGE_SIZE } from '../../usecases/registry/runs.usecases.js';

export interface QueryLimits {
  /** LINPATH_MAX_QUERY_DEPTH */
  maxDepth: number;
  /** LINPATH_MAX_QUERY_COST */
  maxCost: number;
  /** LINPATH_MAX_ROOT_FIELDS */
  maxRootFields: number;
}

/** The size assumed for a list whose length no argument states. */
export const DEFAULT_LIST_SIZE = 10;

/**
 * Bounds the work one operation can ask for, before any resolver runs:
 *
 * - root fields: the fields of the operation's root (aliases and fragments included) are at most
 *   `maxRootFields`, so no operation asks for the same thing thousands of times under different names;
 * - depth: the deepest nesting of fields (a root field is depth 1);
 * - cost: every field costs 1, and a list field costs 1 + n × (the cost of its selection), where n is the
 *   size hint in force: the nearest enclosing (or its own) `first` argument (at most MAX_PAGE_SIZE, the
 *   largest page), or the number of `alphas` (an argument, or a field of an input argument), else
 *   DEFAULT_LIST_SIZE. A hint is used by the first list below it (`runs(first: 50) { edges … }` multiplies
 *   `edges` by 50).
 *
 * Introspection counts like any field, aliases included: `__typename` costs 1, and below `__schema` and
 * `__type` the lists are as long as the schema makes them (the walk follows graphql-js's own introspection
 * resolvers on this schema), so an introspection subtree costs exactly the number of fields it answers with.
 * Variables are read as sent. The walk stops as soon as a limit is passed, so a fragment bomb or a
 * thousand aliased `__schema` cost no more than the limit. Throws BAD_USER_INPUT naming the setting.
 */
export function checkQueryLimits(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Readonly<Record<string, unknown>> | undefined,
  limits: QueryLimits,
): { depth: number; cost: number } {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const root = schema.getRootType(operation.operation);
  if (root === undefined || root === null) return { depth: 0, cost: 0 };
  const vars = (variables ?? {}) as Record<string, unknown>;
  const totals = { depth: 0, cost: 0 };
  // What graphql-js's introspection resolvers read of their `info`.
  const info = { schema } as GraphQLResolveInfo;

  checkRootFields(document, limits.maxRootFields, operation);
  const tooDeep = (depth: number) =>
    badUserInput(
      `query depth: expected at most ${limits.maxDepth} levels of fields (LINPATH_MAX_QUERY_DEPTH), got ${depth} or more`,
    );
  const tooCostly = () =>
    badUserInput(
      `query cost: expected at most ${limits.maxCost} (LINPATH_MAX_QUERY_COST; each field costs 1, times the page size or the ` +
        `number of alphas for fields in lists, introspection included), got ${Math.round(totals.cost)} or more; ` +
        `ask for fewer fields, pages or alphas`,
    );

  /**
   * `source`, below `__schema` and `__type`: the introspection value the selection applies to (a schema, a
   * type, a field, …), whose lists have their real lengths.
   */
  const walk = (
    selectionSet: SelectionSetNode,
    parent: GraphQLCompositeType,
    depth: number,
    weight: number,
    hint: number | undefined,
    seen: ReadonlySet<string>,
    source?: { value: unknown },
  ): void => {
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type =
          selection.typeCondition === undefined ? parent : schema.getType(selection.typeCondition.name.value);
        walk(selection.selectionSet, isCompositeType(type) ? type : parent, depth, weight, hint, seen, source);
        continue;
      }
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (fragment === undefined || seen.has(name)) continue; // validation reports these
        const type = schema.getType(fragment.typeCondition.name.value);
        const within = new Set([...seen, name]);
        walk(fragment.selectionSet, isCompositeType(type) ? type : parent, depth, weight, hint, within, source);
        continue;
      }
      const field = fieldOf(schema, parent, selection.name.value);
      if (depth > totals.depth) totals.depth = depth;
      if (depth > limits.maxDepth) throw tooDeep(depth);
      totals.cost += weight;
      if (totals.cost > limits.maxCost) throw tooCostly();
      if (selection.selectionSet === undefined || field === undefined) continue;
      const type = getNamedType(field.type);
      if (!isCompositeType(type)) continue;
      if (source !== undefined || field === SchemaMetaFieldDef || field === TypeMetaFieldDef) {
        // Introspection: one walk per value the field answers with.
        for (const value of introspected(field, selection, source?.value, vars, info))
          walk(selection.selectionSet, type, depth + 1, weight, undefined, seen, { value });
        continue;
      }
      const ownHint = sizeHint(selection, vars) ?? hint;
      const isList = isListType(getNullableType(field.type));
      // A list field is multiplied by the hint in force, which it uses up; a single field passes it on.
      const multiplier = isList ? Math.max(1, ownHint ?? DEFAULT_LIST_SIZE) : 1;
      walk(selection.selectionSet, type, depth + 1, weight * multiplier, isList ? undefined : ownHint, seen);
    }
  };

  walk(operation.selectionSet, root, 1, 1, undefined, new Set());
  return totals;
}

/** Field selections of a selection set, fragments expanded (each at most once), counted up to `stop`. */
/**
 * The root-field cap: the fields at the root of `operation` (of every operation of the document when none is
 * given), aliases and fragments included, are at most `maxRootFields`. Cheap on a parsed document, so the servers
 * apply it before graphql-js validates: validating thousands of aliased fields costs far more than parsing them
 * (one 2,000-alias `__schema` document: 135 ms to parse, 751 ms to validate).
 */
export function checkRootFields(
  document: DocumentNode,
  maxRootFields: number,
  operation?: OperationDefinitionNode,
): void {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const operations =
    operation === undefined
      ? document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)
      : [operation];
  for (const each of operations) {
    const rootFields = countFields(each.selectionSet, fragments, maxRootFields + 1);
    if (rootFields > maxRootFields) {
      throw badUserInput(
        `root fields: expected at most ${maxRootFields} fields at the root of an operation (LINPATH_MAX_ROOT_FIELDS; ` +
          `aliases and fragments included), got ${rootFields} or more; send fewer fields or several requests`,
      );
    }
  }
}

function countFields(
  selectionSet: SelectionSetNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  stop: number,
  seen: Set<string> = new Set(),
): number {
  let count = 0;
  for (const selection of selectionSet.selections) {
    if (count >= stop) break;
    if (selection.kind === Kind.FIELD) count += 1;
    else if (selection.kind === Kind.INLINE_FRAGMENT)
      count += countFields(selection.selectionSet, fragments, stop - count, seen);
    else {
      const fragment = fragments.get(selection.name.value);
      if (fragment === undefined || seen.has(selection.name.value)) continue;
      seen.add(selection.name.value);
      count += countFields(fragment.selectionSet, fragments, stop - count, seen);
    }
  }
  return count;
}

function fieldOf(
  schema: GraphQLSchema,
  parent: GraphQLCompositeType,
  name: string,
): GraphQLField<unknown, unknown> | undefined {
  if (parent === schema.getQueryType()) {
    if (name === SchemaMetaFieldDef.name) return SchemaMetaFieldDef;
    if (name === TypeMetaFieldDef.name) return TypeMetaFieldDef;
  }
  return isObjectType(parent) || isInterfaceType(parent) ? parent.getFields()[name] : undefined;
}

/**
 * The values an introspection field answers with, from graphql-js's own resolver of it (which reads only its
 * source, its arguments and `info.schema`): a list as its items, null as none.
 */
function introspected(
  field: GraphQLField<unknown, unknown>,
  selection: FieldNode,
  source: unknown,
  variables: Record<string, unknown>,
  info: GraphQLResolveInfo,
): unknown[] {
  let args: Record<string, unknown>;
  try {
    args = getArgumentValues(field, selection, variables);
  } catch {
    return []; // execution reports the bad argument
  }
  const value: unknown =
    field.resolve !== undefined
      ? field.resolve(source, args, undefined, info)
      : (source as Record<string, unknown> | null | undefined)?.[field.name];
  if (Array.isArray(value)) return value;
  return value === null || value === undefined ? [] : [value];
}

/** `first: n`, or the number of `alphas` (an argument, or a field of an input object argument). */
function sizeHint(field: FieldNode, variables: Record<string, unknown>): number | undefined {
  for (const argument of field.arguments ?? []) {
    const value = valueFromASTUntyped(argument.value, variables) as unknown;
    // A larger page is refused by the resolver, with a message about `first` that is more use than the cost's.
    if (argument.name.value === 'first' && typeof value === 'number' && Number.isFinite(value))
      return Math.min(value, MAX_PAGE_SIZE);
    if (argument.name.value === 'alphas' && Array.isArray(value)) return value.length;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const alphas = (value as Record<string, unknown>).alphas;
      if (Array.isArray(alphas)) return alphas.length;
    }
  }
  return undefined;
}
