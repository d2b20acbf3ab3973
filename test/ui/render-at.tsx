// Renders a component on a fake terminal of a chosen size. ink-testing-library's stdout is always 100
// columns and has no rows; Ink lays out to stdout.columns, so a screen tested at 80 or 200 columns needs a
// stdout that says so, and one that can be resized.
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { render } from 'ink';
import type { ReactElement } from 'react';

class SizedStdout extends EventEmitter {
  frames: string[] = [];
  constructor(
    public columns: number,
    public rows: number,
  ) {
    super();
  }
  write = (frame: string) => {
    this.frames.push(frame);
    return true;
  };
}

export interface Rendered {
  /** The last frame drawn, without colours. */
  lastFrame(): string;
  /** Changes the terminal's size and tells the app, as SIGWINCH does. */
  resize(columns: number, rows: number): void;
  unmount(): void;
}

/** `tree` drawn on a terminal of `columns` x `rows`; every frame is written whole (Ink's debug mode). */
export function renderAt(tree: ReactElement, columns: number, rows: number): Rendered {
  const stdout = new SizedStdout(columns, rows);
  const stderr = new SizedStdout(columns, rows);
  const instance = render(tree, {
    stdout: stdout as unknown as NodeJS.WriteStream,
    stderr: stderr as unknown as NodeJS.WriteStream,
    debug: true,
    exitOnCtrlC: false,
    patchConsole: false,
  });
  return {
    lastFrame: () => stripAnsi(stdout.frames.at(-1) ?? ''),
    resize(newColumns, newRows) {
      stdout.columns = newColumns;
      stdout.rows = newRows;
      stdout.emit('resize');
    },
    unmount: () => instance.unmount(),
  };
}

/** The frame `tree` draws at `columns` x `rows`. */
export function frameAt(tree: ReactElement, columns: number, rows: number): string {
  const rendered = renderAt(tree, columns, rows);
  const text = rendered.lastFrame();
  rendered.unmount();
  return text;
}

export const stripAnsi = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '');

/**
 * The width Ink itself measures text with (string-width, resolved from Ink's own dependencies): an
 * independent check of our measure, and the one that decides whether Ink wraps a line.
 */
export const inkStringWidth: (text: string) => number = await (async () => {
  const require = createRequire(import.meta.resolve('ink'));
  const module = (await import(pathToFileURL(require.resolve('string-width')).href)) as { default: (text: string) => number };
  return module.default;
})();
