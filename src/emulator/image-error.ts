/** A firmware image the emulator cannot run: missing, not BIN or UF2, or without a vector table. */
export class ImageFormatError extends Error {
  override name = 'ImageFormatError';
}
