import type { ComputeSettings } from '../config/config.js';
import type { Engine, EngineName } from './engine.js';

/**
 * The engines of this process, created on first use (loading ONNX Runtime or compiling the tfjs wasm module
 * costs time and memory a process that never evaluates need not spend) and shared afterwards.
 */
export class EngineProvider {
  private readonly engines = new Map<EngineName, Promise<Engine>>();

  constructor(
    private readonly settings: Pick<ComputeSettings, 'onnxProvider' | 'threads' | 'tfjsBackend'> &
      Partial<Pick<ComputeSettings, 'onnxState'>>,
  ) {}

  get(name: EngineName): Promise<Engine> {
    let engine = this.engines.get(name);
    if (engine === undefined) {
      engine = this.create(name);
      // A failed start (no CUDA, say) is not cached: the next request tries again and gets the same message.
      engine.catch(() => this.engines.delete(name));
      this.engines.set(name, engine);
    }
    return engine;
  }

  private async create(name: EngineName): Promise<Engine> {
    switch (name) {
      case 'onnx': {
        const { OnnxEngine } = await import('./onnx/onnx.engine.js');
        return OnnxEngine.create({
          provider: this.settings.onnxProvider,
          ...(this.settings.onnxState === undefined ? {} : { state: this.settings.onnxState }),
          ...(this.settings.threads > 0 ? { threads: this.settings.threads } : {}),
        });
      }
      case 'tfjs': {
        // In a thread of its own: a batch blocks the thread that computes it (issue 13).
        const { TfjsThreadEngine } = await import('./tfjs/tfjs.thread.js');
        const engine: Engine = await TfjsThreadEngine.create({
          ...(this.settings.tfjsBackend === undefined ? {} : { backend: this.settings.tfjsBackend }),
          // A thread that crashed is replaced at the next request.
          onLost: () =>
            void this.engines.get('tfjs')?.then(
              (current) => current === engine && this.engines.delete('tfjs'),
              () => undefined,
            ),
        });
        return engine;
      }
    }
  }

  async close(): Promise<void> {
    const engines = await Promise.allSettled(this.engines.values());
    this.engines.clear();
    for (const engine of engines) if (engine.status === 'fulfilled') await engine.value.close();
  }
}
