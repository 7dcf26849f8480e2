import { type ChildProcess, spawn } from 'node:child_process';
import type { InspectionResult } from '@diad/protocol';
import type { Logger } from 'pino';
import type { Frame, RawFrame } from '../frame.js';

export interface CameraOptions {
  id: string;
  site: string;
  line: string;
  station: string;
  url: string;
  input: 'rtsp' | 'v4l2' | 'lavfi';
  width: number;
  height: number;
  mode: 'continuous' | 'trigger';
  intervalMs: number;
  ffmpegPath: string;
  restartMs: number;
  submit: (frame: Frame) => Promise<InspectionResult>;
  logger: Logger;
}

/** ffmpeg arguments that decode a camera stream to raw RGB frames of width x height on stdout. */
export function ffmpegArgs(o: Pick<CameraOptions, 'url' | 'input' | 'width' | 'height'>): string[] {
  const input =
    o.input === 'rtsp'
      ? ['-rtsp_transport', 'tcp', '-i', o.url]
      : o.input === 'v4l2'
        ? ['-f', 'v4l2', '-i', o.url]
        : ['-f', 'lavfi', '-i', o.url];
  return [
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostdin',
    ...input,
    '-an',
    '-vf',
    `scale=${o.width}:${o.height}`,
    '-pix_fmt',
    'rgb24',
    '-f',
    'rawvideo',
    'pipe:1',
  ];
}

/**
 * A camera read through an ffmpeg child process (RTSP, V4L2 or a lavfi test source). It keeps the latest
 * frame; in "continuous" mode it also inspects one frame every intervalMs, in "trigger" mode frames are only
 * taken by grab() (OPC UA Trigger). ffmpeg is restarted after restartMs if it exits.
 */
export class FfmpegCamera {
  private child: ChildProcess | null = null;
  private latest: { frame: RawFrame; at: number } | null = null;
  private waiters: ((f: RawFrame) => void)[] = [];
  private tick: NodeJS.Timeout | null = null;
  private restart: NodeJS.Timeout | null = null;
  private stopped = false;
  private seq = 0;
  framesRead = 0;

  constructor(private readonly o: CameraOptions) {}

  start() {
    this.stopped = false;
    this.spawn();
    if (this.o.mode === 'continuous') {
      this.tick = setInterval(() => void this.inspectLatest(), this.o.intervalMs);
      this.tick.unref();
    }
  }

  /** The newest frame, waiting up to timeoutMs for the first one. */
  grab(timeoutMs = 5000): Promise<RawFrame> {
    if (this.latest) return Promise.resolve(this.latest.frame);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        reject(new Error(`camera ${this.o.id}: no frame within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (f: RawFrame) => {
        clearTimeout(t);
        resolve(f);
      };
      this.waiters.push(done);
    });
  }

  async stop() {
    this.stopped = true;
    if (this.tick) clearInterval(this.tick);
    if (this.restart) clearTimeout(this.restart);
    const c = this.child;
    if (c && c.exitCode === null) {
      await new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        c.kill('SIGTERM');
      });
    }
  }

  private spawn() {
    const frameBytes = this.o.width * this.o.height * 3;
    const child = spawn(this.o.ffmpegPath, ffmpegArgs(this.o), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let buf: Buffer = Buffer.alloc(0);
    child.stdout!.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      while (buf.length >= frameBytes) {
        const data = new Uint8Array(buf.subarray(0, frameBytes));
        buf = buf.subarray(frameBytes);
        const frame: RawFrame = { data, width: this.o.width, height: this.o.height, channels: 3 };
        this.latest = { frame, at: Date.now() };
        this.framesRead++;
        for (const w of this.waiters.splice(0)) w(frame);
      }
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    child.on('error', (e) =>
      this.o.logger.error({ camera: this.o.id, err: e.message }, 'ffmpeg could not start'),
    );
    child.on('exit', (code, signal) => {
      if (this.stopped) return;
      this.o.logger.warn(
        { camera: this.o.id, code, signal, stderr: stderr.trim() },
        'ffmpeg exited; restarting',
      );
      this.restart = setTimeout(() => this.spawn(), this.o.restartMs);
      this.restart.unref();
    });
  }

  private async inspectLatest() {
    const l = this.latest;
    if (!l) return;
    this.latest = null; // each camera frame is inspected at most once
    try {
      await this.o.submit({
        site: this.o.site,
        line: this.o.line,
        station: this.o.station,
        camera: this.o.id,
        partId: `${this.o.id}-${l.at}-${this.seq++}`,
        capturedAt: l.at,
        image: l.frame,
      });
    } catch (e) {
      this.o.logger.warn({ camera: this.o.id, err: (e as Error).message }, 'camera frame not inspected');
    }
  }
}
