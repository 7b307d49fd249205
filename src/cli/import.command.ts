import { Option, type Command } from 'commander';
import type { Linpath } from '../app.js';
import { badUserInput } from '../errors.js';
import type { InputLayout } from '../storage/registry.tables.js';
import { importCheckpointFile, type CheckpointRole } from '../usecases/registry/checkpoints.usecases.js';
import { importArchitectureFile } from '../usecases/registry/architectures.usecases.js';
import { importDatasetFile, type DatasetFormat, type DatasetSplit } from '../usecases/registry/datasets.usecases.js';
import { parseNumberList, parseStep, printJson } from './options.js';
import { addRunDescriptionOptions, describeRun, type RunDescription } from './run.command.js';

/** `linpath import checkpoint|dataset`: uploads a local file to the store and registers it. */
export function addImportCommand(
  program: Command,
  withLinpath: (work: (app: Linpath) => Promise<void>) => Promise<void>,
): void {
  const importCommand = program
    .command('import')
    .description(
      'Upload a local file (a safetensors checkpoint; a safetensors, CIFAR-10 binary or MNIST IDX dataset) to the store and register it.',
    );

  importCommand
    .command('model')
    .description(
      'Register an architecture from a PyTorch ONNX export (docs/architectures.md): checked, uploaded content-addressed, named.',
    )
    .argument('<file>', 'an .onnx file exported with training=PRESERVE and do_constant_folding=False')
    .requiredOption('--name <name>', 'architecture name for `import checkpoint --arch` (unique; never re-pointed)')
    .addHelpText(
      'after',
      '\nPrints one JSON object as its last line: {"architecture":{"name","sha256","inputShape","outputs","parameters","engines","unsupportedOps",...}}',
    )
    .action(async (file: string, options: { name: string }) => {
      await withLinpath(async (app) => {
        const { architecture, created } = await importArchitectureFile(app.registry, file, { name: options.name });
        const row = architecture.row!;
        printJson({
          architecture: {
            name: architecture.name,
            sha256: row.sha256,
            uri: row.uri,
            opset: row.opset,
            inputShape: architecture.inputShape,
            outputs: architecture.outputs,
            parameters: architecture.parameters!.length,
            blocks: architecture.blocks,
            engines: architecture.engines,
            unsupportedOps: row.unsupportedOps,
            created,
          },
        });
      });
    });

  const checkpointCommand = importCommand
    .command('checkpoint')
    .description(
      'Upload a PyTorch checkpoint (safetensors, state_dict names) and register it in a run (created if missing).',
    )
    .argument('<file>', 'a .safetensors file')
    .requiredOption('--run <name>', 'run name (created when it does not exist)')
    .requiredOption('--step <n>', 'training step, an integer ≥ 0', parseStep)
    .addOption(
      new Option('--role <role>', 'where the checkpoint sits in its run')
        .choices(['initial', 'intermediate', 'final'])
        .makeOptionMandatory(),
    )
    .option(
      '--arch <name>',
      "architecture (defaults to the run's; sets it on a run without one): built in, or registered with `import model`; the checkpoint is checked against it",
    );
  addRunDescriptionOptions(checkpointCommand)
    .addHelpText(
      'after',
      '\nPrints one JSON object as its last line: {"run":{"id","name",...},"checkpoint":{"id","sha256",...}}',
    )
    .action(async (file: string, options: { run: string; step: number; role: string } & RunDescription) => {
      await withLinpath(async (app) => {
        const imported = await importCheckpointFile(app.registry, file, {
          run: options.run,
          step: options.step,
          role: options.role.toUpperCase() as CheckpointRole,
          architecture: options.arch,
        });
        const { checkpoint, created } = imported;
        const run = await describeRun(app.registry, imported.run, { ...options, arch: undefined });
        printJson({
          run: {
            id: run.id,
            name: run.name,
            architecture: run.architecture,
            datasetName: run.datasetName,
            tags: run.tags,
            hyperparameters: run.hyperparameters,
          },
          checkpoint: {
            id: checkpoint.id,
            sha256: checkpoint.sha256,
            uri: checkpoint.uri,
            step: checkpoint.step,
            role: checkpoint.role,
            tensorCount: checkpoint.tensorCount,
            parameterCount: checkpoint.parameterCount,
            created,
          },
        });
      });
    });

  importCommand
    .command('dataset')
    .description('Upload a dataset (safetensors, CIFAR-10 binary or MNIST IDX) and register it.')
    .argument('<file>', 'a .safetensors file, a CIFAR-10 *_batch.bin file, or an MNIST IDX images file')
    .requiredOption('--name <name>', 'dataset name, e.g. cifar10')
    .addOption(
      new Option('--split <split>', 'which split').choices(['train', 'validation', 'test']).makeOptionMandatory(),
    )
    .addOption(
      new Option('--format <format>', 'how the file is stored')
        .choices(['safetensors', 'cifar10-binary', 'mnist-idx'])
        .default('safetensors'),
    )
    .option('--labels <file>', 'mnist-idx: the IDX labels file')
    .option('--input-key <key>', 'safetensors: tensor holding the inputs (default "x")')
    .option('--label-key <key>', 'safetensors: tensor holding the labels (default "y")')
    .addOption(
      new Option('--layout <layout>', 'safetensors images: axis order of the stored examples').choices([
        'nchw',
        'nhwc',
      ]),
    )
    .option('--mean <values>', 'per-channel means in stored units, e.g. 125.3,123,113.9 (with --std)', parseNumberList)
    .option('--std <values>', 'per-channel standard deviations, e.g. 63,62.1,66.7 (with --mean)', parseNumberList)
    .addHelpText(
      'after',
      '\nInputs are fed to models as x = (v - mean[c]) / std[c] when --mean and --std are given, as stored otherwise.' +
        '\nPrints one JSON object as its last line: {"dataset":{"id","sha256",...}}',
    )
    .action(
      async (
        file: string,
        options: {
          name: string;
          split: string;
          format: string;
          labels?: string;
          inputKey?: string;
          labelKey?: string;
          layout?: string;
          mean?: number[];
          std?: number[];
        },
      ) => {
        if ((options.mean === undefined) !== (options.std === undefined)) {
          throw badUserInput(
            `normalization: expected --mean and --std together, got only ${options.mean ? '--mean' : '--std'}`,
          );
        }
        await withLinpath(async (app) => {
          const { dataset, created } = await importDatasetFile(app.registry, file, {
            name: options.name,
            split: options.split.toUpperCase() as DatasetSplit,
            format: options.format.toUpperCase().replace('-', '_') as DatasetFormat,
            labelsFile: options.labels,
            inputKey: options.inputKey,
            labelKey: options.labelKey,
            inputLayout: options.layout?.toUpperCase() as InputLayout | undefined,
            normalization: options.mean && options.std ? { mean: options.mean, std: options.std } : undefined,
          });
          printJson({
            dataset: {
              id: dataset.id,
              sha256: dataset.sha256,
              uri: dataset.uri,
              ...(dataset.labelsUri !== null
                ? { labelsSha256: dataset.labelsSha256, labelsUri: dataset.labelsUri }
                : {}),
              name: dataset.name,
              split: dataset.split,
              format: dataset.format,
              exampleCount: dataset.exampleCount,
              inputShape: dataset.inputShape,
              numClasses: dataset.numClasses,
              created,
            },
          });
        });
      },
    );
}
