import { generateKeyPairSync, sign } from 'node:crypto';
import { readTar } from '@diad/protocol/tar';
import { describe, expect, it } from 'vitest';
import {
  checkSignature,
  ed25519PublicKey,
  isManifestPath,
  verifyBundle,
} from '../../src/registry/verify-bundle.js';
import { makeBundle, manifestFor } from '../helpers/bundle.js';
import { makeTar } from '../helpers/tar.js';

async function verify(tar: Buffer | Promise<Buffer>) {
  const c = await readTar([await tar], { keep: isManifestPath });
  return verifyBundle(c.files, c.content);
}

describe('verifyBundle', () => {
  it('accepts a bundle at the top level or inside one folder', async () => {
    expect((await verify(makeBundle('a', '1.0.0'))).model).toMatchObject({ name: 'a', version: '1.0.0' });
    expect((await verify(makeBundle('a', '1.0.1', { folder: 'a-1.0.1' }))).model.version).toBe('1.0.1');
  });

  it('names the file whose hash or size differs, or that is missing', async () => {
    await expect(verify(makeBundle('a', '1.0.0', { tamper: true }))).rejects.toThrow(
      /decoder\.onnx: sha256 mismatch/,
    );
    const files = { 'encoder.onnx': Buffer.from('e'), 'denoiser.onnx': Buffer.from('d') };
    const m = manifestFor('a', '1.0.0', {
      ...files,
      'decoder.onnx': Buffer.from('x'),
      'features.onnx': Buffer.from('f'),
    });
    const tar = await makeTar([
      { path: 'manifest.json', data: JSON.stringify(m) },
      { path: 'encoder.onnx', data: 'e' },
      { path: 'denoiser.onnx', data: 'dd' },
      { path: 'decoder.onnx', data: 'x' },
    ]);
    await expect(verify(tar)).rejects.toThrow(/denoiser\.onnx: manifest says 1 bytes, archive has 2/);
    const tar2 = await makeTar([
      { path: 'manifest.json', data: JSON.stringify(m) },
      { path: 'encoder.onnx', data: 'e' },
    ]);
    await expect(verify(tar2)).rejects.toThrow(/denoiser\.onnx: listed in manifest\.files but missing/);
  });

  it('reports a manifest that is not JSON or does not parse', async () => {
    await expect(verify(makeTar([{ path: 'manifest.json', data: '{' }]))).rejects.toThrow(/not valid JSON/);
    await expect(verify(makeTar([{ path: 'manifest.json', data: '{}' }]))).rejects.toThrow(
      /^manifest\.json: format/,
    );
  });
});

describe('ed25519 signatures', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const sha = 'a'.repeat(64);
  const sig = sign(null, Buffer.from(sha), privateKey).toString('base64');

  it('verifies with a PEM key or the raw 32 bytes in base64', () => {
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const raw = (publicKey.export({ format: 'der', type: 'spki' }) as Buffer).subarray(12).toString('base64');
    expect(checkSignature(sha, sig, ed25519PublicKey(pem))).toBe(true);
    expect(checkSignature(sha, sig, ed25519PublicKey(raw))).toBe(true);
    expect(checkSignature('b'.repeat(64), sig, ed25519PublicKey(raw))).toBe(false);
    expect(checkSignature(sha, 'AAAA', ed25519PublicKey(raw))).toBe(false);
  });

  it('refuses keys that are not ed25519', () => {
    expect(() => ed25519PublicKey('AAAA')).toThrow(TypeError);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({
      type: 'spki',
      format: 'pem',
    });
    expect(() => ed25519PublicKey(rsa.toString())).toThrow(/expected an ed25519 key/);
  });
});
