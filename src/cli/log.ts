/** One-line log records: plain text for people, NDJSON with --json. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export function createLogger(stream: NodeJS.WritableStream, format: 'plain' | 'json', now: () => Date = () => new Date()): Logger {
  const write = (level: 'info' | 'error', message: string, fields: Record<string, unknown> = {}) => {
    const ts = now().toISOString();
    if (format === 'json') {
      stream.write(`${JSON.stringify({ ts, level, msg: message, ...fields })}\n`);
      return;
    }
    const extra = Object.entries(fields)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => `${key}=${typeof value === 'string' && !/\s/.test(value) ? value : JSON.stringify(value)}`)
      .join(' ');
    stream.write(`${ts} ${level.padEnd(5)} ${message}${extra ? ` ${extra}` : ''}\n`);
  };
  return { info: (m, f) => write('info', m, f), error: (m, f) => write('error', m, f) };
}
