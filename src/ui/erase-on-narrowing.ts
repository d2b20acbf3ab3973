// When the terminal gets narrower, Ink erases the frame it drew by counting the lines it wrote. Terminals
// that reflow their contents on a resize (tmux, VTE, iTerm2, kitty) have by then re-wrapped every line
// wider than the new width into two or more, so that count falls short and the top of the old frame stays
// on screen above the new one. Erasing the whole visible screen first, and starting the redraw from its
// top-left corner, leaves nothing behind; the lines above the old frame that scrolled away stay in history.

const HOME_AND_ERASE_DOWN = '\x1b[H\x1b[J';

/** Until the returned function is called, erases `stdout`'s screen whenever it narrows, before Ink redraws. */
export function eraseOnNarrowing(stdout: NodeJS.WriteStream): () => void {
  let columns = stdout.columns;
  const onResize = () => {
    if (stdout.isTTY && stdout.columns < columns) stdout.write(HOME_AND_ERASE_DOWN);
    columns = stdout.columns;
  };
  // Ink's own listener was added when it started rendering; this one must run before it.
  stdout.prependListener('resize', onResize);
  return () => stdout.off('resize', onResize);
}
