// Stands in for restore-cursor, which Ink's cli-cursor calls when it hides the cursor: its exit hook writes
// "show the cursor" (ESC[?25h) to process.stderr whether or not stderr is a terminal, so
// `taskctl work x -- cmd 2>err.txt` on a terminal left an escape code in err.txt. Ink shows the cursor
// itself, on the stream it hid it on, when it unmounts and when the process exits; the hook here is kept
// for a terminal stderr only, and what is not a terminal never gets an escape code.
import signalExit from 'signal-exit';

let armed = false;

export default function restoreCursor() {
  if (armed) return;
  armed = true;
  signalExit(
    () => {
      if (process.stderr.isTTY) process.stderr.write('\u001B[?25h');
    },
    { alwaysLast: true },
  );
}
