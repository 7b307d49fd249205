import {
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
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { badUserInput } from '../../errors.js';
import { MAX_PAGE_SIZE } from '../../usecases/registry/runs.usecases.js';

export interface QueryLimits {
  /** LINPATH_MAX_QUERY_DEPTH */
  maxDepth: number;
  /** LINPATH_MAX_QUERY_COST */
  maxCost: number;
}

/** The size assumed for a list whose length no argument states. */
export const DEFAULT_LIST_SIZE = 10;

/**
 * Bounds the work one operation can ask for, before any resolver runs:
 *
 * - depth: the deepest nesting of fields (a root field is depth 1);
 * - cost: every field costs 1, and a list field costs 1 + n × (the cost of its selection), where n is the
 *   size hint in force: the nearest enclosing (or its own) `first` argument (at most MAX_PAGE_SIZE, the
 *   largest page), or the number of `alphas` (an
 *   argument, or a field of an input argument), else DEFAULT_LIST_SIZE. A hint is used by the first list
 *   below it (`runs(first: 50) { edges … }` multiplies `edges` by 50).
 *
 * Introspection (`__schema`, `__type`, `__typename`) is free: its size is the schema's. Variables are read
 * as sent. The walk stops as soon as either limit is passed, so a fragment bomb costs no more than the limit.
 * Throws BAD_USER_INPUT naming the setting.
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

  const tooDeep = (depth: number) =>
    badUserInput(
      `query depth: expected at most ${limits.maxDepth} levels of fields (LINPATH_MAX_QUERY_DEPTH), got ${depth} or more`,
    );
  const tooCostly = () =>
    badUserInput(
      `query cost: expected at most ${limits.maxCost} (LINPATH_MAX_QUERY_COST; each field costs 1, times the page size or the ` +
        `number of alphas for fields in lists), got ${Math.round(totals.cost)} or more; ask for fewer fields, pages or alphas`,
    );

  const walk = (
    selectionSet: SelectionSetNode,
    parent: GraphQLCompositeType,
    depth: number,
    weight: number,
    hint: number | undefined,
    seen: ReadonlySet<string>,
  ): void => {
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type =
          selection.typeCondition === undefined ? parent : schema.getType(selection.typeCondition.name.value);
        walk(selection.selectionSet, isCompositeType(type) ? type : parent, depth, weight, hint, seen);
        continue;
      }
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (fragment === undefined || seen.has(name)) continue; // validation reports these
        const type = schema.getType(fragment.typeCondition.name.value);
        walk(
          fragment.selectionSet,
          isCompositeType(type) ? type : parent,
          depth,
          weight,
          hint,
          new Set([...seen, name]),
        );
        continue;
      }
      if (selection.name.value.startsWith('__')) continue;
      const field = fieldOf(parent, selection.name.value);
      if (depth > totals.depth) totals.depth = depth;
      if (depth > limits.maxDepth) throw tooDeep(depth);
      const ownHint = sizeHint(selection, vars) ?? hint;
      const isList = field !== undefined && isListType(getNullableType(field.type));
      // A list field is multiplied by the hint in force, which it uses up; a single field passes it on.
      const multiplier = isList ? Math.max(1, ownHint ?? DEFAULT_LIST_SIZE) : 1;
      totals.cost += weight;
      if (totals.cost > limits.maxCost) throw tooCostly();
      if (selection.selectionSet === undefined || field === undefined) continue;
      const type = getNamedType(field.type);
      if (!isCompositeType(type)) continue;
      walk(selection.selectionSet, type, depth + 1, weight * multiplier, isList ? undefined : ownHint, seen);
    }
  };

  walk(operation.selectionSet, root, 1, 1, undefined, new Set());
  return totals;
}

function fieldOf(parent: GraphQLCompositeType, name: string): GraphQLField<unknown, unknown> | undefined {
  return isObjectType(parent) || isInterfaceType(parent) ? parent.getFields()[name] : undefined;
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
