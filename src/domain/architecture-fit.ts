import { badUserInput } from '../errors.js';

/** A tensor an architecture expects: its state_dict name and shape, and whether it holds floats or integers. */
export interface ParameterSpec {
  name: string;
  shape: readonly number[];
  /** Default 'float'. */
  kind?: 'float' | 'int' | undefined;
}

/** A tensor as a checkpoint's header describes it. */
export interface CheckpointTensor {
  name: string;
  dtype: string;
  shape: readonly number[];
}

/** How a checkpoint differs from an architecture's parameter table; all empty when it fits. */
export interface ArchitectureFit {
  /** Expected tensors the checkpoint lacks, as `name [shape]`. */
  missing: string[];
  /** Tensors of the checkpoint the architecture does not have. */
  unexpected: string[];
  /** Tensors present with another shape or kind of dtype, as `name: expected …, got …`. */
  misshaped: string[];
}

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);
const INT_DTYPES = new Set(['I64', 'I32', 'I16', 'I8', 'U64', 'U32', 'U16', 'U8']);

/** Compares a checkpoint's tensors (from its safetensors header) with an architecture's parameter table. */
export function architectureFit(
  expected: readonly ParameterSpec[],
  tensors: readonly CheckpointTensor[],
): ArchitectureFit {
  const given = new Map(tensors.map((t) => [t.name, t]));
  const names = new Set(expected.map((s) => s.name));
  const missing = expected.filter((s) => !given.has(s.name)).map((s) => `${s.name} [${s.shape.join(', ')}]`);
  const unexpected = tensors.filter((t) => !names.has(t.name)).map((t) => t.name);
  const misshaped: string[] = [];
  for (const spec of expected) {
    const tensor = given.get(spec.name);
    if (tensor === undefined) continue;
    const float = (spec.kind ?? 'float') === 'float';
    if (tensor.shape.length !== spec.shape.length || tensor.shape.some((d, i) => d !== spec.shape[i])) {
      misshaped.push(`${spec.name}: expected [${spec.shape.join(', ')}], got [${tensor.shape.join(', ')}]`);
    } else if (!(float ? FLOAT_DTYPES : INT_DTYPES).has(tensor.dtype)) {
      misshaped.push(`${spec.name}: expected a${float ? ' floating-point' : 'n integer'} dtype, got ${tensor.dtype}`);
    }
  }
  return { missing, unexpected, misshaped };
}

/**
 * BAD_USER_INPUT listing every missing, unexpected and mis-shaped tensor (at most 20 of each) unless the
 * checkpoint fits the architecture's parameter table. The one check of a checkpoint against an architecture:
 * at import, when a run's architecture is set, and before a path is planned.
 */
export function checkArchitectureFit(
  architecture: string,
  expected: readonly ParameterSpec[],
  tensors: readonly CheckpointTensor[],
): void {
  const { missing, unexpected, misshaped } = architectureFit(expected, tensors);
  if (missing.length + unexpected.length + misshaped.length === 0) return;
  const list = (label: string, items: string[]) =>
    items.length === 0
      ? []
      : [`${label} (${items.length}): ${items.slice(0, 20).join('; ')}${items.length > 20 ? '; …' : ''}`];
  throw badUserInput(
    [
      `checkpoint does not match architecture ${architecture}:`,
      ...list('missing', missing),
      ...list('unexpected', unexpected),
      ...list('wrong shape or dtype', misshaped),
    ].join(' '),
  );
}
