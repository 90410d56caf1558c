import type { IncomingMessage } from 'node:http';

/** Reads what is left of a streamed response (from `open()` in clients.ts) up to its end. */
export function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => (body += chunk));
    res.on('error', reject);
    res.on('end', () => resolve(body));
  });
}

/** Resolves with the next chunk of a streamed response (e.g. an SSE stream's first event). */
export function firstChunk(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    res.once('data', (chunk: Buffer) => resolve(chunk.toString('utf8')));
    res.once('error', reject);
  });
}
