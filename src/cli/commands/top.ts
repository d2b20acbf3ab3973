import { type ClientArgs, withClientOptions } from '../client-options.ts';
import type { CommandDefinition } from '../context.ts';

export type TopArgs = ClientArgs;

export const topCommand: CommandDefinition<TopArgs> = {
  command: 'top',
  describe: "A live full-screen view of a server's tasks: move, filter, look closer, cancel",
  builder: (yargs) =>
    withClientOptions(yargs)
      .example('taskctl top --server https://tasks.example.com', 'watch every task of that server change, live')
      .epilogue(
        'Keys: ↑/↓ or j/k move (PgUp/PgDn, g/G), / filters by text (id, worker, progress, who cancelled), s cycles a state filter, ' +
          'enter opens the detail pane (history, reason, worker, schedule), c cancels the selected task after a confirm line that ' +
          'takes an optional reason, esc goes back, q quits. Needs a terminal (for a stream use taskctl events --json, for a list taskctl ls) ' +
          'and a token with the list right; cancelling needs the cancel right (operator or admin).\n\n' +
          "Exit codes: 0 quit; 2 usage error or no terminal; 4 not authorized (token refused); 5 not trusted (TLS: the server's certificate, " +
          "or the server refused this client's); 70 internal error.",
      ) as never,
  // Loaded only when the command runs, so --help and --version stay fast.
  run: (args, context) => import('./top-run.ts').then((m) => m.runTop(args, context)),
};
