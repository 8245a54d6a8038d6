/**
 * Read a whole stream that is expected to be small (a JSON body, a metadata document),
 * failing with `tooLarge()` as soon as it passes `maxBytes`. `onOver` decides what
 * happens to the rest of the stream (drain a request, destroy an upstream body).
 *
 * With `expectedBytes` (a stored file's size), the bytes are copied into one buffer of
 * that size as they arrive: no list of chunks joined at the end, so a document of tens of
 * megabytes is never held twice nor copied whole in one go on the event loop. A stream
 * that turns out longer is still read whole (up to `maxBytes`); a shorter one gives what came.
 */
export async function readLimited(
  stream: AsyncIterable<unknown>,
  maxBytes: number,
  tooLarge: () => Error,
  onOver: () => void = () => undefined,
  expectedBytes?: number,
): Promise<Buffer> {
  let target = expectedBytes !== undefined && expectedBytes <= maxBytes ? Buffer.allocUnsafe(expectedBytes) : undefined;
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const bytes = chunk as Buffer;
    if (total + bytes.length > maxBytes) {
      onOver();
      throw tooLarge();
    }
    if (target && total + bytes.length <= target.length) bytes.copy(target, total);
    else {
      // Longer than expected: what came so far, then chunks.
      if (target) chunks.push(target.subarray(0, total));
      target = undefined;
      chunks.push(bytes);
    }
    total += bytes.length;
  }
  if (target) return total === target.length ? target : target.subarray(0, total);
  return Buffer.concat(chunks, total);
}
