import 'reflect-metadata';
import { CommanderError } from 'commander';
import { EXIT_CODES } from './cli/exit-codes.js';
import { buildCli } from './cli/program.js';
import { ConfigError } from './config/config.js';
import { isLinpathError } from './errors.js';

/** Runs the CLI; errors become one line on stderr and an exit status from EXIT_CODES. */
export async function main(argv: string[] = process.argv): Promise<void> {
  // The SDK warns that releases after January 2027 need Node 22; linpath supports Node 20 until then.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  try {
    await buildCli().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed the help or the usage error already.
      process.exitCode = error.exitCode === 0 ? 0 : EXIT_CODES.BAD_USER_INPUT;
    } else if (error instanceof ConfigError) {
      process.stderr.write(`linpath: ${error.message}\n`);
      process.exitCode = EXIT_CODES.BAD_USER_INPUT;
    } else if (isLinpathError(error)) {
      process.stderr.write(`linpath: ${error.code}: ${error.message}\n`);
      process.exitCode = EXIT_CODES[error.code];
    } else {
      process.stderr.write(
        `linpath: INTERNAL_SERVER_ERROR: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = EXIT_CODES.INTERNAL_SERVER_ERROR;
    }
  }
}
