import { isLinpathError } from '../../errors.js';
import { trainGraph, type EpochProgress, type TrainGraphArgs, type TrainingSnapshot } from './trainer.js';
import type { ChildMessage, ParentMessage } from './training.process.js';

/**
 * The entry of a training process (training.process.ts forks it): runs `trainGraph` on what the parent sends
 * and hands every epoch and snapshot to the parent, waiting for its answer before it goes on, as trainGraph
 * awaits its callbacks. The tfjs work then blocks this process's event loop, not the server's.
 */
const send = (message: ChildMessage): void => void process.send!(message);

let acknowledged: (() => void) | undefined;
const handOver = (message: ChildMessage): Promise<void> =>
  new Promise<void>((resolve) => {
    acknowledged = resolve;
    send(message);
  });

process.on('message', (message: ParentMessage) => {
  if (message.type === 'ack') {
    const resolve = acknowledged;
    acknowledged = undefined;
    resolve?.();
    return;
  }
  void run(message.args);
});
// The parent went away (killed, or it cancelled the training): so does this process.
process.on('disconnect', () => process.exit(0));

async function run(args: Omit<TrainGraphArgs, 'signal' | 'onEpoch' | 'onSnapshot'>): Promise<void> {
  try {
    const result = await trainGraph({
      ...args,
      onEpoch: (progress: EpochProgress) => handOver({ type: 'epoch', progress }),
      onSnapshot: (snapshot: TrainingSnapshot) => handOver({ type: 'snapshot', snapshot }),
    });
    send({ type: 'done', result });
  } catch (error) {
    const { name, message } = error as Error;
    send({ type: 'error', error: { name, message, ...(isLinpathError(error) ? { code: error.code } : {}) } });
  }
}
