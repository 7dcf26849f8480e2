import type { BundleManifest, GraphName, GraphSpec, TensorSpec } from '@diad/protocol';
import type { ValueInfo } from '../backend/types.js';
import { BundleError } from '../errors.js';

function fmt(shape: ReadonlyArray<number | string>): string {
  return `[${shape.join(',')}]`;
}

function checkValues(
  file: string,
  kind: 'input' | 'output',
  want: TensorSpec[],
  got: readonly ValueInfo[],
): void {
  const gotNames = got.map((g) => g.name);
  for (const w of want) {
    const g = got.find((v) => v.name === w.name);
    if (!g) {
      throw new BundleError(
        file,
        `${kind} "${w.name}" named in manifest.json is not in the graph (graph has ${gotNames.join(', ')})`,
      );
    }
    if (g.dtype !== undefined && g.dtype !== w.dtype) {
      throw new BundleError(
        file,
        `${kind} "${w.name}": dtype ${g.dtype} in the graph, ${w.dtype} in manifest.json`,
      );
    }
    if (g.shape === undefined) continue;
    const mismatch =
      g.shape.length !== w.shape.length ||
      w.shape.some((d, i) => {
        const gd = g.shape![i];
        // A fixed manifest axis must be that size, or symbolic in the graph (the graph is more general);
        // an axis the manifest calls dynamic must be dynamic in the graph.
        if (typeof d === 'number') return typeof gd === 'number' && gd !== d;
        return typeof gd === 'number';
      });
    if (mismatch) {
      throw new BundleError(
        file,
        `${kind} "${w.name}": shape ${fmt(g.shape)} in the graph, ${fmt(w.shape)} in manifest.json`,
      );
    }
  }
  if (kind === 'input') {
    const extra = gotNames.filter((n) => !want.some((w) => w.name === n));
    if (extra.length > 0)
      throw new BundleError(file, `graph input(s) ${extra.join(', ')} are not described in manifest.json`);
  }
}

/** Checks a session's input/output names, dtypes and shapes against the manifest's description of the graph. */
export function verifyGraphIo(
  spec: GraphSpec,
  session: { inputs: readonly ValueInfo[]; outputs: readonly ValueInfo[] },
): void {
  checkValues(spec.file, 'input', spec.inputs, session.inputs);
  checkValues(spec.file, 'output', spec.outputs, session.outputs);
}

const ARITY: Record<GraphName, { inputs: number; outputs: number }> = {
  encoder: { inputs: 1, outputs: 2 },
  denoiser: { inputs: 3, outputs: 1 },
  decoder: { inputs: 1, outputs: 1 },
  features: { inputs: 1, outputs: 1 },
};

function fixedDims(spec: TensorSpec, from: number): number[] | undefined {
  const d = spec.shape.slice(from);
  return d.every((v) => typeof v === 'number') ? (d as number[]) : undefined;
}

/**
 * Checks the manifest's graph descriptions fit together and with input/latent/scoring before any session exists:
 * roles are positional (encoder → mean, logvar; denoiser ← z_t, t, hint), tensors are batch-first.
 */
export function verifyManifestGraphs(m: BundleManifest): void {
  const fail = (g: GraphName, why: string): never => {
    throw new BundleError('manifest.json', `graphs.${g}: ${why}`);
  };
  for (const g of Object.keys(ARITY) as GraphName[]) {
    const spec = m.graphs[g];
    if (spec.inputs.length !== ARITY[g].inputs)
      fail(g, `expected ${ARITY[g].inputs} input(s), got ${spec.inputs.length}`);
    if (g === 'features' ? spec.outputs.length < 1 : spec.outputs.length !== ARITY[g].outputs) {
      fail(g, `expected ${ARITY[g].outputs} output(s), got ${spec.outputs.length}`);
    }
  }
  const img = [3, m.input.height, m.input.width];
  const lat = [m.latent.channels, m.latent.height, m.latent.width];
  const same = (a: number[] | undefined, b: number[]) =>
    a !== undefined && a.length === b.length && a.every((v, i) => v === b[i]);
  const expect = (g: GraphName, t: TensorSpec, want: number[], what: string) => {
    if (t.shape.length !== want.length + 1 || !same(fixedDims(t, 1), want)) {
      fail(g, `"${t.name}" shape ${fmt(t.shape)}: expected [batch,${want.join(',')}] (${what})`);
    }
    if (t.dtype !== 'float32') fail(g, `"${t.name}" dtype ${t.dtype}: expected float32`);
  };
  expect('encoder', m.graphs.encoder.inputs[0], img, 'input');
  expect('encoder', m.graphs.encoder.outputs[0], lat, 'latent');
  expect('encoder', m.graphs.encoder.outputs[1], lat, 'latent');
  expect('denoiser', m.graphs.denoiser.inputs[0], lat, 'latent');
  const t = m.graphs.denoiser.inputs[1];
  if (t.shape.length !== 1) fail('denoiser', `"${t.name}" shape ${fmt(t.shape)}: expected [batch]`);
  if (t.dtype !== 'int64' && t.dtype !== 'int32' && t.dtype !== 'float32') {
    fail('denoiser', `"${t.name}" dtype ${t.dtype}: expected int64, int32 or float32`);
  }
  expect('denoiser', m.graphs.denoiser.inputs[2], img, 'input');
  expect('denoiser', m.graphs.denoiser.outputs[0], lat, 'latent');
  expect('decoder', m.graphs.decoder.inputs[0], lat, 'latent');
  expect('decoder', m.graphs.decoder.outputs[0], img, 'input');
  expect('features', m.graphs.features.inputs[0], img, 'input');
  for (const f of m.graphs.features.outputs) {
    if (f.shape.length !== 4 || !fixedDims(f, 1))
      fail('features', `"${f.name}" shape ${fmt(f.shape)}: expected [batch,C,H,W]`);
    if (f.dtype !== 'float32') fail('features', `"${f.name}" dtype ${f.dtype}: expected float32`);
  }
  if (m.features.layers.length !== m.graphs.features.outputs.length) {
    throw new BundleError(
      'manifest.json',
      `features.layers lists ${m.features.layers.length} layers, graphs.features has ${m.graphs.features.outputs.length} outputs`,
    );
  }
}

/** True when every graph's first axis is dynamic (a string), so several frames can run as one batch. */
export function hasDynamicBatch(m: BundleManifest): boolean {
  return Object.values(m.graphs).every((g) =>
    [...g.inputs, ...g.outputs].every((t) => t.shape.length > 0 && typeof t.shape[0] === 'string'),
  );
}
