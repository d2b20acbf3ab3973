import type { CommandDefinition } from '../context.ts';

export type TokenArgs = { action: 'new'; name: string; role: 'worker' | 'operator' | 'reader' | 'admin'; json: boolean };

export const tokenCommand: CommandDefinition<TokenArgs> = {
  command: 'token <action> <name>',
  describe: 'Make a role-scoped token for serve --tokens: prints it once, and the line for the tokens file',
  builder: (yargs) =>
    yargs
      .positional('action', { type: 'string', choices: ['new'], describe: 'new: make a fresh random token' })
      .positional('name', { type: 'string', describe: 'Who will hold it; cancels they make are recorded under this name' })
      .option('role', {
        type: 'string',
        choices: ['worker', 'operator', 'reader', 'admin'],
        demandOption: true,
        describe: 'worker: watch, report, status; operator: worker + cancel, schedule, ls; reader: status, ls, /metrics; admin: everything',
      })
      .option('json', { type: 'boolean', default: false, describe: 'Print {"name","role","token","line"} as one JSON line' })
      .example('taskctl token new gpu-runners --role worker', 'a token for workers, and its line for the tokens file')
      .epilogue('Only the line (with the SHA-256 of the token) goes into the file; the token itself is shown this once.\n\nExit codes: 0 ok, 2 usage error.') as never,
  run: (args, context) => import('./token-run.ts').then((m) => m.runToken(args, context)),
};
