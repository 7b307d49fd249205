import { Command } from 'commander';
import { createLinpath, createLogger, type Linpath } from '../app.js';
import { loadConfig, type Config } from '../config/config.js';
import { addImportCommand } from './import.command.js';
import { addKeysCommand } from './keys.command.js';
import { addListCommands } from './list.command.js';
import { addPathCommand } from './path.command.js';
import { addPlaneCommand } from './plane.command.js';
import { addCurveCommand } from './curve.command.js';
import { addReportCommand } from './report.command.js';
import { addRunCommand } from './run.command.js';
import { addStartCommand } from './start.command.js';
import { addStudyCommand } from './study.command.js';
import { addSweepCommand } from './sweep.command.js';
import { addWorkerCommand } from './worker.command.js';

/** The `linpath` command and its subcommands; every command's code lives in its own file of cli/. */
export function buildCli(env: NodeJS.ProcessEnv = process.env): Command {
  const program = new Command('linpath')
    .description('Linear-interpolation analysis of neural-network loss landscapes, served over GraphQL.')
    .showHelpAfterError()
    .exitOverride()
    // Usage mistakes read like every other error: a code, then what was expected and given.
    .configureOutput({
      outputError: (text, write) => write(`linpath: BAD_USER_INPUT: ${text.replace(/^error: /, '')}`),
    });

  addStartCommand(program, env);
  addImportCommand(program, (work) => withLinpath(loadConfig(env), work));
  addListCommands(program, (work) => withLinpath(loadConfig(env), work, { workers: false }));
  addRunCommand(program, (work) => withLinpath(loadConfig(env), work, { workers: false }));
  addPathCommand(program, (work) => withLinpath(loadConfig(env), work));
  addPlaneCommand(program, (work) => withLinpath(loadConfig(env), work));
  addCurveCommand(program, (work) => withLinpath(loadConfig(env), work));
  addSweepCommand(program, (work) => withLinpath(loadConfig(env), work));
  addReportCommand(program, (work) => withLinpath(loadConfig(env), work));
  addKeysCommand(program, (work) => withLinpath(loadConfig(env), work, { workers: false }));
  addStudyCommand(program, (work) => withLinpath(loadConfig(env), work));

  addWorkerCommand(program, env);

  return program;
}

/**
 * Runs `work` on a linpath of this process. With no server running, this command hosts the embedded
 * database, and nobody else can evaluate: one worker runs here then (unless `workers` is false).
 */
async function withLinpath(
  config: Config,
  work: (app: Linpath) => Promise<void>,
  options: { workers?: boolean } = {},
): Promise<void> {
  const app = await createLinpath(config, 'client', createLogger({ logLevel: 'warn' }));
  try {
    if (options.workers !== false && app.hostsDatabase && config.queue.workers > 0) await app.startWorkers(1);
    await work(app);
  } finally {
    await app.close();
  }
}
