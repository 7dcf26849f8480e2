import { OrtBackend } from '../../src/backend/ort-backend.js';
import type { GraphSession, HostTensor, InferenceBackend, SessionConfig } from '../../src/backend/types.js';

export interface RunRecord {
  file: string;
  feeds: Record<string, HostTensor>;
  outputs: Record<string, HostTensor>;
}

/** Real ONNX Runtime sessions, with every run recorded (shapes and buffer identity). */
export class SpyBackend implements InferenceBackend {
  readonly runs: RunRecord[] = [];
  readonly created: { file: string; provider: string }[] = [];
  private readonly inner = new OrtBackend();

  async createSession(file: string, config: SessionConfig): Promise<GraphSession> {
    const s = await this.inner.createSession(file, config);
    this.created.push({ file, provider: config.provider });
    const runs = this.runs;
    return {
      inputs: s.inputs,
      outputs: s.outputs,
      run(feeds, outputs) {
        runs.push({ file: file.split('/').pop()!, feeds: { ...feeds }, outputs: { ...outputs } });
        return s.run(feeds, outputs);
      },
      release: () => s.release(),
    };
  }
}
