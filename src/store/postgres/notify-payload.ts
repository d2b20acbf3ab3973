// A NOTIFY payload must be shorter than 8,000 bytes. Ids never hold whitespace (see task-id.ts), so a
// newline separates them.

/** The most bytes of one payload: under PostgreSQL's limit of 8,000. */
export const MAX_PAYLOAD_BYTES = 7_999;

/** `ids` joined by newlines into as few payloads as fit under MAX_PAYLOAD_BYTES each, in order. */
export function idChunks(ids: readonly string[], maxBytes = MAX_PAYLOAD_BYTES): string[] {
  const chunks: string[] = [];
  let chunk: string[] = [];
  let bytes = 0;
  for (const id of ids) {
    const size = Buffer.byteLength(id) + (chunk.length > 0 ? 1 : 0);
    if (chunk.length > 0 && bytes + size > maxBytes) {
      chunks.push(chunk.join('\n'));
      chunk = [];
      bytes = 0;
    }
    bytes += Buffer.byteLength(id) + (chunk.length > 0 ? 1 : 0);
    chunk.push(id);
  }
  if (chunk.length > 0) chunks.push(chunk.join('\n'));
  return chunks;
}

/** The ids a payload names. */
export function idsOf(payload: string): string[] {
  return payload.split('\n').filter(Boolean);
}
