import fc from 'fast-check';
import onnxProto, { type onnx as Onnx } from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { LinpathError } from '../../src/errors.js';
import { DEFAULT_ONNX_LIMITS, readOnnxArchitecture } from '../../src/compute/onnx/onnx.import.js';
import { blockChoices, topLevelBlocks, userModelGraph } from '../../src/compute/onnx/onnx.to-ir.js';
import { seedFuzzFromEnvironment } from '../helpers/fuzz.js';
import { readOnnxFixtureBytes } from '../helpers/onnx-fixtures.js';

const { onnx } = onnxProto;
seedFuzzFromEnvironment();

const mlp = readOnnxFixtureBytes('mlp-bn/model.onnx');

/** The MLP fixture decoded, changed by `change`, encoded again. */
function mutated(change: (model: Onnx.ModelProto) => void): Uint8Array {
  const model = onnx.ModelProto.decode(mlp);
  change(model);
  return onnx.ModelProto.encode(model).finish();
}

function refusal(bytes: Uint8Array): string {
  try {
    readOnnxArchitecture(bytes, 'model.onnx', { ...DEFAULT_ONNX_LIMITS, maxBytes: 1 << 20 });
  } catch (error) {
    expect(error).toBeInstanceOf(LinpathError);
    expect((error as LinpathError).code).toBe('BAD_USER_INPUT');
    return (error as LinpathError).message;
  }
  throw new Error('expected a refusal');
}

describe('readOnnxArchitecture', () => {
  it('reads a PRESERVE export: opset, ops, data input, logits, state_dict-named parameters', () => {
    const arch = readOnnxArchitecture(mlp, 'model.onnx');
    expect(arch).toMatchObject({
      irVersion: 8,
      opset: 17,
      ops: [
        { op: 'Gemm', count: 3 },
        { op: 'BatchNormalization', count: 2 },
        { op: 'Relu', count: 2 },
      ],
      input: { name: 'input', shape: [16] },
      output: { name: 'logits', outputs: 3 },
    });
    expect(arch.parameters.map((p) => p.name)).toEqual([
      'fc1.weight',
      'fc1.bias',
      'bn1.weight',
      'bn1.bias',
      'bn1.running_mean',
      'bn1.running_var',
      'fc2.weight',
      'fc2.bias',
      'bn2.weight',
      'bn2.bias',
      'bn2.running_mean',
      'bn2.running_var',
      'head.weight',
      'head.bias',
    ]);
    expect(arch.parameters.find((p) => p.name === 'fc1.weight')!.shape).toEqual([32, 16]);
    expect(arch.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('takes float graph inputs other than the data input as parameters (export_params=False)', () => {
    const withParams = readOnnxArchitecture(mlp, 'a.onnx');
    const without = readOnnxArchitecture(readOnnxFixtureBytes('mlp-bn/model.noparams.onnx'), 'b.onnx');
    expect(without.parameters).toEqual(withParams.parameters);
    expect(without.input).toEqual(withParams.input);
  });

  it("undoes the exporter's deduplication of equal parameters: each Identity alias is a parameter of its own", () => {
    const dedup = readOnnxArchitecture(readOnnxFixtureBytes('mlp-bn/model.dedup.onnx'), 'dedup.onnx');
    const plain = readOnnxArchitecture(mlp, 'model.onnx');
    const byName = (a: typeof plain) => [...a.parameters].sort((x, y) => (x.name < y.name ? -1 : 1));
    expect(byName(dedup)).toEqual(byName(plain));
    expect(dedup.model.graph!.node!.some((n) => n.opType === 'Identity')).toBe(false);
    // The exporter kept 8 initializers and 6 Identity nodes; the graph as read has 14 initializers and no Identity.
    expect(dedup.ops.map((o) => o.op)).toEqual(['Gemm', 'BatchNormalization', 'Relu']);
    expect(dedup.model.graph!.initializer).toHaveLength(14);
  });

  it('refuses the default eval export, whose BatchNorm is folded into Conv under new names, saying how to export', () => {
    const message = refusal(readOnnxFixtureBytes('folded/model.onnx'));
    expect(message).toMatch(/2 of 4 parameters are not named as state_dict keys \(onnx::Conv_16, onnx::Conv_17\)/);
    expect(message).toMatch(/do_constant_folding=False/);
    expect(message).toMatch(/training=torch\.onnx\.TrainingMode\.PRESERVE/);
  });

  it.each([
    ['an empty file', new Uint8Array(0), /empty/],
    ['a truncated file', mlp.subarray(0, mlp.length - 100), /does not decode/],
    ['bytes that are no protobuf', new Uint8Array(64).fill(0xff), /does not decode|no graph/],
    ['a file over the size limit', new Uint8Array(2 << 20), /more than the 1048576 allowed/],
    [
      'a custom domain',
      mutated((m) => m.opsetImport.push(onnx.OperatorSetIdProto.create({ domain: 'com.evil', version: 1 }))),
      /custom domains com\.evil/,
    ],
    [
      'a cycle',
      mutated((m) => {
        const nodes = m.graph!.node!;
        nodes[0]!.input![0] = nodes[2]!.output![0]!; // the first Gemm reads what a later node computes
      }),
      /no earlier node computes .*cycle/,
    ],
    [
      'a subgraph',
      mutated((m) => {
        m.graph!.node![0]!.attribute!.push(
          onnx.AttributeProto.create({ name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: {} }),
        );
      }),
      /subgraph/,
    ],
    [
      'external data',
      mutated((m) => {
        m.graph!.initializer![0]!.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      }),
      /external file/,
    ],
    [
      'huge dims',
      mutated((m) => {
        m.graph!.initializer![0]!.dims = [1 << 30, 1 << 30];
      }),
      /more than the .* values allowed/,
    ],
    [
      'a negative dim',
      mutated((m) => {
        m.graph!.initializer![0]!.dims = [-1, 16];
      }),
      /negative dimension/,
    ],
    [
      'data that does not fit its dims',
      mutated((m) => {
        m.graph!.initializer![0]!.dims = [33, 16];
      }),
      /holds 512 float values, expected 528/,
    ],
    [
      'a float64 parameter',
      mutated((m) => {
        m.graph!.initializer![0]!.dataType = onnx.TensorProto.DataType.DOUBLE;
      }),
      /DOUBLE; expected float32/,
    ],
    [
      'an integer data input',
      mutated((m) => {
        m.graph!.input![0]!.type!.tensorType!.elemType = onnx.TensorProto.DataType.INT64;
      }),
      /data input "input" to be float32, got INT64/,
    ],
    [
      'an unknown per-example dim',
      mutated((m) => {
        m.graph!.input![0]!.type!.tensorType!.shape!.dim![1] = onnx.TensorShapeProto.Dimension.create({
          dimParam: 'f',
        });
      }),
      /known per-example dims, got \[batch, f\]/,
    ],
    [
      'two outputs',
      mutated((m) => {
        m.graph!.output!.push(m.graph!.output![0]!);
      }),
      /one output .* found 2/,
    ],
    [
      'an output that is not [N, C]',
      mutated((m) => {
        m.graph!.output![0]!.type!.tensorType!.shape!.dim!.push(
          onnx.TensorShapeProto.Dimension.create({ dimValue: 2 }),
        );
      }),
      /\[N, C\]/,
    ],
    [
      'no data input',
      mutated((m) => {
        m.graph!.input = [];
      }),
      /expected a data input/,
    ],
  ])('refuses %s with a coded error', (_, bytes, pattern) => {
    expect(refusal(bytes)).toMatch(pattern);
  });

  it('ends every truncation or corruption of a valid export in a coded error or a valid architecture', () => {
    const small = readOnnxFixtureBytes('mlp-bn/model.noparams.onnx');
    fc.assert(
      fc.property(
        fc.nat({ max: small.length }),
        fc.array(fc.tuple(fc.nat({ max: small.length - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        (cut, flips) => {
          const bytes = small.slice(0, cut);
          for (const [at, value] of flips) if (at < bytes.length) bytes[at] = value;
          try {
            const arch = readOnnxArchitecture(bytes, 'fuzz.onnx');
            userModelGraph('fuzz', arch); // whatever is accepted also lowers or falls back, without throwing
          } catch (error) {
            if (!(error instanceof LinpathError) || error.code !== 'BAD_USER_INPUT') throw error;
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('blocks of a user architecture', () => {
  const names = ['features.0.0.weight', 'features.1.block.0.0.weight', 'classifier.0.weight', 'pos'];
  it('lists the top-level modules, and those one level below for the dashboard', () => {
    expect(topLevelBlocks(names)).toEqual(['features', 'classifier', 'pos']);
    expect(blockChoices(names)).toEqual(['features', 'features.0', 'features.1', 'classifier', 'classifier.0']);
  });
});
