import yargs, { type Argv } from 'yargs';
import { InvalidInputError } from '../core/task-id.ts';
import { COMMIT, VERSION } from '../protocol/build-info.ts';
import { commands } from './commands.ts';
import { type CommandContext, type CommandDefinition, EXIT_CODES_HELP, ExitCode, UsageError } from './context.ts';

/** Runs taskctl with `argv` (without the node and script names) and resolves with the exit code. */
export async function main(argv: readonly string[], context: CommandContext): Promise<number> {
  let exitCode: number = ExitCode.ok;
  let usageProblem: string | undefined;
  const parser = yargs([...argv])
    .scriptName('taskctl')
    .usage('taskctl <command> [options]\n\nCancel long-running tasks on workers that nobody can reach.')
    .strict()
    .demandCommand(1, 'name a command')
    .recommendCommands()
    .version(`${VERSION} (${COMMIT})`)
    .alias('version', 'V')
    .help()
    .alias('help', 'h')
    // yargs renders the help text after starting any command, needed or not; wrapped, that costs ~50 ms of
    // start-up (measuring every cell of it). Only a call for help gets the wrapped text.
    .wrap(wantsHelp(argv) ? Math.min(110, context.stdout.columns ?? 100) : null)
    .locale('en')
    .parserConfiguration({ 'populate--': true })
    .exitProcess(false)
    .epilogue(`Guides: README.md and docs/ at https://github.com/taskctl/taskctl (every option: docs/cli.md). Tab completion: taskctl completion bash|zsh.\n\n${EXIT_CODES_HELP}`)
    .fail((message, error) => {
      // Throwing stops yargs here; returning would let it run the command's handler regardless.
      throw error ?? new UsageError(message);
    });
  for (const definition of commands) register(parser, definition, context, (code) => (exitCode = code));
  try {
    await parser.parseAsync();
  } catch (error) {
    if (error instanceof UsageError || error instanceof InvalidInputError) usageProblem = error.message;
    else throw error;
  }
  if (usageProblem !== undefined) {
    // One line: yargs puts what was wrong on the lines after its heading ("Invalid values:\n  Argument: ...").
    const line = usageProblem.split('\n').map((part) => part.trim()).filter(Boolean).join(' ');
    context.stderr.write(`taskctl: ${line} (see taskctl --help)\n`);
    return ExitCode.usage;
  }
  return exitCode;
}

function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h') || argv.length === 0;
}

function register<Args>(parser: Argv, definition: CommandDefinition<Args>, context: CommandContext, setExitCode: (code: number) => void): void {
  parser.command(definition.command, definition.describe, definition.builder as (y: Argv) => Argv, async (args) => {
    setExitCode(await definition.run(args as unknown as Args, context));
  });
}
