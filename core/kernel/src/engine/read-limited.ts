/**
 * Read a whole stream that is expected to be small (a JSON body, a metadata document),
 * failing with `tooLarge()` as soon as it passes `maxBytes`. `onOver` decides what
 * happens to the rest of the stream (drain a request, destroy an upstream body).
 */
export async function readLimited(
  stream: AsyncIterable<unknown>,
  maxBytes: number,
  tooLarge: () => Error,
  onOver: () => void = () => undefined,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += (chunk as Buffer).length;
    if (total > maxBytes) {
      onOver();
      throw tooLarge();
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, total);
}
