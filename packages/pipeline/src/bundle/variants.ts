/**
 * Accelerator variants of a bundle (docs/bundle.md, "Variants"): graphs compiled ahead of time for one provider,
 * e.g. TensorRT EP-context graphs with their engines embedded, which are tied to a GPU's compute capability and a
 * TensorRT version. Choosing one is pure: the manifest and the device's facts in, a variant or the reasons none
 * fits out. The variant's files are listed in the manifest's `files` with their sha256, so the bundle's hash and
 * signature cover them like the plain graphs.
 */
import type { BundleManifest, GraphName } from '@diad/protocol';
import type { Provider } from '../backend/types.js';

export type BundleVariant = NonNullable<BundleManifest['variants']>[number];

export interface DeviceFacts {
  computeCapability?: string;
  tensorrtVersion?: string;
}

export interface VariantChoice {
  variant?: BundleVariant;
  /** Why each variant for this provider was passed over (empty when one was chosen or none exists). */
  rejected: string[];
}

function majorMinor(v: string): string {
  return v.split('.').slice(0, 2).join('.');
}

/** Why a variant does not fit the device, or null when it does. */
export function variantMismatch(v: BundleVariant, device: DeviceFacts): string | null {
  if (v.computeCapability !== undefined) {
    if (device.computeCapability === undefined)
      return `variant ${v.name} needs compute capability ${v.computeCapability}; the device's is unknown`;
    if (device.computeCapability !== v.computeCapability)
      return `variant ${v.name} is for compute capability ${v.computeCapability}, the device is ${device.computeCapability}`;
  }
  if (v.tensorrtVersion !== undefined) {
    if (device.tensorrtVersion === undefined)
      return `variant ${v.name} needs TensorRT ${v.tensorrtVersion}; no TensorRT version found on the device`;
    if (majorMinor(device.tensorrtVersion) !== majorMinor(v.tensorrtVersion))
      return `variant ${v.name} was built with TensorRT ${v.tensorrtVersion}, the device has ${device.tensorrtVersion}`;
  }
  return null;
}

/** The first variant for `provider` that fits the device (manifest order is the exporter's preference). */
export function chooseVariant(
  manifest: BundleManifest,
  provider: Provider,
  device: DeviceFacts,
  precision?: 'fp32' | 'fp16',
): VariantChoice {
  const rejected: string[] = [];
  for (const v of manifest.variants ?? []) {
    if (v.provider !== provider) continue;
    if (precision && v.precision !== precision) {
      rejected.push(`variant ${v.name} is ${v.precision}, ${precision} was asked for`);
      continue;
    }
    const why = variantMismatch(v, device);
    if (why) rejected.push(why);
    else return { variant: v, rejected };
  }
  return { rejected };
}

/** The file each graph runs from: the variant's where it has one, else the plain graph's. */
export function graphFiles(manifest: BundleManifest, variant?: BundleVariant): Record<GraphName, string> {
  const g = manifest.graphs;
  const v = variant?.graphs ?? {};
  return {
    encoder: v.encoder?.file ?? g.encoder.file,
    denoiser: v.denoiser?.file ?? g.denoiser.file,
    decoder: v.decoder?.file ?? g.decoder.file,
    features: v.features?.file ?? g.features.file,
  };
}
