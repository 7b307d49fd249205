import onnxProto from 'onnx-proto';
import type { StateTensorSpec } from '../model-ir.js';
import type { LoweredModel } from './onnx.lowering.js';

const { onnx } = onnxProto;

/**
 * A user's ONNX export with every parameter as a graph input (not an initializer), so that one session serves
 * every state along a path and each α's interpolated tensors are fed in by their state_dict names. Initializers
 * that are no parameters (integer constants) stay as they are; parameters already graph inputs
 * (export_params=False) stay inputs.
 */
export function exportWithStateInputs(model: Uint8Array, state: readonly StateTensorSpec[]): LoweredModel {
  const decoded = onnx.ModelProto.decode(model);
  const graph = decoded.graph!;
  const parameters = new Map(state.filter((s) => s.kind === 'float').map((s) => [s.name, s.shape]));
  const inputs = new Set((graph.input ?? []).map((i) => i.name ?? ''));
  const turned = (graph.initializer ?? []).filter((t) => parameters.has(t.name ?? ''));
  graph.initializer = (graph.initializer ?? []).filter((t) => !parameters.has(t.name ?? ''));
  for (const tensor of turned) {
    const name = tensor.name ?? '';
    if (inputs.has(name)) continue;
    graph.input = [
      ...(graph.input ?? []),
      onnx.ValueInfoProto.create({
        name,
        type: {
          tensorType: {
            elemType: onnx.TensorProto.DataType.FLOAT,
            shape: { dim: parameters.get(name)!.map((d) => ({ dimValue: d })) },
          },
        },
      }),
    ];
  }
  const used = new Set((graph.node ?? []).flatMap((n) => n.input ?? []));
  const stateInputs = [...parameters.keys()].filter((name) => used.has(name));
  // A parameter no node reads would be a required input all the same: drop it from the inputs.
  graph.input = (graph.input ?? []).filter((i) => !parameters.has(i.name ?? '') || used.has(i.name ?? ''));
  return { model: onnx.ModelProto.encode(decoded).finish(), stateInputs };
}
