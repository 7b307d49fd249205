import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LinpathError } from '../../errors.js';
import type { EpochProgress, TrainGraphArgs, TrainingResult, TrainingSnapshot } from './trainer.js';

/** What the parent sends a training process: the work, then an answer to each epoch and snapshot. */
export type ParentMessage =
  { type: 'start'; args: Omit<TrainGraphArgs, 'signal' | 'onEpoch' | 'onSnapshot'> } | { type: 'ack' };

/** What a training process sends back. */
export type ChildMessage =
  | { type: 'epoch'; progress: EpochProgress }
  | { type: 'snapshot'; snapshot: TrainingSnapshot }
  | { type: 'done'; result: TrainingResult }
  | { type: 'error'; error: { name: string; message: string; code?: LinpathError['code'] } };

/**
 * `trainGraph` in a child process of its own, with the same arguments and result: the tfjs steps (seconds
 * each for a large model) then block that process, not the event loop of the server or worker that asked,
 * and a training that runs out of memory takes only its process down. Callbacks run here, in order, and the
 * child waits for each. An abort of `signal` kills the child at once (training is deterministic: a retried
 * job starts over and writes the same checkpoints) and rejects with the signal's reason.
 */
export function trainGraphInChild(args: TrainGraphArgs): Promise<TrainingResult> {
  const { signal, onEpoch, onSnapshot, ...work } = args;
  signal?.throwIfAborted();
  // Without onSnapshot, trainGraph returns the snapshots: the child hands each over as it comes.
  const snapshots: TrainingSnapshot[] = [];
  const takeSnapshot = onSnapshot ?? ((snapshot: TrainingSnapshot) => void snapshots.push(snapshot));
  return new Promise<TrainingResult>((resolve, reject) => {
    const child = forkTrainer();
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', abort);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      outcome();
    };
    const abort = () => settle(() => reject(signal!.reason));
    signal?.addEventListener('abort', abort, { once: true });
    child.on('error', (error) => settle(() => reject(error)));
    child.on('exit', (code, killedBy) =>
      settle(() =>
        reject(new Error(`the training process ended before its result (exit code ${code}, signal ${killedBy})`)),
      ),
    );
    child.on('message', (message: ChildMessage) => {
      const answer = async (callback: () => Promise<void> | void) => {
        try {
          await callback();
          if (!settled) child.send({ type: 'ack' } satisfies ParentMessage);
        } catch (error) {
          settle(() => reject(error));
        }
      };
      switch (message.type) {
        case 'epoch':
          void answer(() => onEpoch?.(message.progress));
          break;
        case 'snapshot':
          void answer(() => takeSnapshot(message.snapshot));
          break;
        case 'done':
          settle(() => resolve({ ...message.result, snapshots }));
          break;
        case 'error': {
          const { name, message: text, code } = message.error;
          const error = code !== undefined ? new LinpathError(code, text) : new Error(text);
          if (code === undefined) error.name = name;
          settle(() => reject(error));
          break;
        }
      }
    });
    child.send({ type: 'start', args: work } satisfies ParentMessage);
  });
}

/**
 * Forks training.child: the compiled .js next to this file, or, when linpath runs from its TypeScript
 * sources (the tests), the .ts through tsx (a development dependency).
 */
function forkTrainer(): ChildProcess {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = fileURLToPath(new URL(`./training.child.${fromSource ? 'ts' : 'js'}`, import.meta.url));
  return fork(entry, [], {
    serialization: 'advanced', // typed arrays cross as they are
    execArgv: fromSource ? ['--import', 'tsx'] : [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}
