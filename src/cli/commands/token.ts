import type { CommandDefinition } from '../context.ts';

export type TokenArgs = { subcommand: 'new'; name: string; role: 'worker' | 'operator' | 'reader' | 'admin'; scope?: string[] | undefined; json: boolean };

export const tokenCommand: CommandDefinition<TokenArgs> = {
  command: 'token <subcommand> <name>',
  describe: 'Make a role-scoped token for serve --tokens: prints it once, and the line for the tokens file',
  needs: 'a subcommand and a name, e.g. taskctl token new gpu-runners --role worker',
  builder: (yargs) =>
    yargs
      .positional('subcommand', { type: 'string', choices: ['new'], describe: 'new: make a fresh random token' })
      .positional('name', { type: 'string', describe: 'Who will hold it; cancels they make are recorded under this name' })
      .option('role', {
        type: 'string',
        choices: ['worker', 'operator', 'reader', 'admin'],
        demandOption: true,
        describe: 'worker: watch, report, status; operator: worker + cancel, schedule, ls; reader: status, ls, /metrics; admin: everything',
      })
      .option('scope', {
        type: 'string',
        array: true,
        describe: 'Only the tasks whose ids match: an exact id, or a prefix ending in * (quote it); repeat for more. Without it, every task',
      })
      .option('json', { type: 'boolean', default: false, describe: 'Print {"name","role","token","line"} (and "scope" when given) as one JSON line' })
      .example('taskctl token new gpu-runners --role worker', 'a token for workers, and its line for the tokens file')
      .example("taskctl token new team-a --role operator --scope 'team-a-*'", 'an operator who may watch, cancel and list only the ids starting with team-a-')
      .epilogue(
        'Only the line (with the SHA-256 of the token) goes into the file; the token itself is shown this once.\n\nExit codes: 0 ok, 2 usage error.',
      ) as never,
  run: (args, context) => import('./token-run.ts').then((m) => m.runToken(args, context)),
};
