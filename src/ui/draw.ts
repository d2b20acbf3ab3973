import { render } from 'ink';
import type { ReactElement } from 'react';
import { eraseOnNarrowing } from './erase-on-narrowing.ts';

/** Where a screen is drawn; stdin only for screens that read keys. */
export interface ScreenIo {
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
  readonly stdin?: NodeJS.ReadStream;
}

/**
 * Draws `screen` with Ink the way every screen is drawn: Ctrl-C left to the command (it is a signal the
 * command handles), the console not patched, at most `maxFps` frames a second, and the screen erased when
 * the terminal narrows. The returned function takes it down; it has once the promise settles. (Ink hides
 * the cursor on `stdout` and shows it there again; the bundle keeps its dependency from also writing that
 * to a redirected stderr: build/restore-cursor.mjs.)
 */
export function draw(screen: ReactElement, io: ScreenIo, maxFps: number): () => Promise<void> {
  const instance = render(screen, {
    stdout: io.stdout,
    stderr: io.stderr,
    ...(io.stdin ? { stdin: io.stdin } : {}),
    exitOnCtrlC: false,
    patchConsole: false,
    maxFps,
  });
  const stopErasing = eraseOnNarrowing(io.stdout);
  return async () => {
    instance.unmount();
    stopErasing();
    await instance.waitUntilExit().catch(() => {});
  };
}
