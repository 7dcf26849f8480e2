/**
 * The provider probe's graph: Conv 1×1 (4→4 channels) → ReLU → GlobalAveragePool over a 1×4×8×8 input, opset 17,
 * made by scripts/make-probe-graph.ts. Small enough to embed; a provider has to run a real convolution kernel to
 * pass it, which is what fails first when a GPU library is missing or mismatched.
 */
export const PROBE_GRAPH_BASE64 =
  'CAgSE2RpYWQtcGlwZWxpbmUtdGVzdHM6hQIKLwoBeAoBdxIBYxoHbjBfQ29udiIEQ29udioVCgxrZXJuZWxfc2hhcGVCAgEBoAEHChUKAWMSAXIaB24xX1JlbHUiBFJlbHUKLwoBchIBeRoUbjJfR2xvYmFsQXZlcmFnZVBvb2wiEUdsb2JhbEF2ZXJhZ2VQb29sEgFnKk0KBAQEAQEQASJAAAAAvwAAgL4AAAAAAACAPgAAAD8AAAC/AACAvgAAAAAAAIA+AAAAPwAAAL8AAIC+AAAAAAAAgD4AAAA/AAAAv0IBd1obCgF4EhYKFAgBEhAKAggBCgIIBAoCCAgKAggIYhsKAXkSFgoUCAESEAoCCAEKAggECgIIAQoCCAFCBAoAEBE=';

export const PROBE_INPUT = { name: 'x', dims: [1, 4, 8, 8] as const };
export const PROBE_OUTPUT = { name: 'y', dims: [1, 4, 1, 1] as const };

/** The probe's expected output for an input of all ones: per output channel, relu(sum of its weights). */
export function probeExpectedForOnes(): Float32Array {
  const w = Array.from({ length: 16 }, (_, i) => ((i % 5) - 2) / 4);
  const out = new Float32Array(4);
  for (let o = 0; o < 4; o++) {
    let s = 0;
    for (let i = 0; i < 4; i++) s += w[o * 4 + i];
    out[o] = Math.max(0, s);
  }
  return out;
}
