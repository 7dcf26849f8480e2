/** A bundle that cannot be used: names the offending file (relative to the bundle) and the problem. */
export class BundleError extends Error {
  readonly file: string;
  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(`bundle file ${file}: ${problem}`, options);
    this.name = 'BundleError';
    this.file = file;
  }
}

/** An image that cannot be decoded or is out of the supported range. */
export class ImageDecodeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ImageDecodeError';
  }
}
