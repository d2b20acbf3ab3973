import yargs, { type Argv } from 'yargs';
import { InvalidInputError } from '../core/task-id.ts';
import { COMMIT, VERSION } from '../protocol/build-info.ts';
import { commands } from './commands.ts';
import { type CommandContext, type CommandDefinition, EXIT_CODES_HELP, ExitCode, UsageError } from './context.ts';
import { joinDashValues } from './dash-values.ts';

/** Runs taskctl with `argv` (without the node and script names) and resolves with the exit code. */
export async function main(argv: readonly string[], context: CommandContext): Promise<number> {
  let exitCode: number = ExitCode.ok;
  let usageProblem: string | undefined;
  const parser = yargs(joinDashValues(argv, commands))
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
    .epilogue(
      `Guides: README.md and docs/ at https://github.com/taskctl/taskctl (every option: docs/cli.md). Tab completion: taskctl completion bash|zsh.\n\n${EXIT_CODES_HELP}`,
    )
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
    context.stderr.write(`taskctl: ${oneLine(usageProblem, argv)} (see taskctl --help)\n`);
    return ExitCode.usage;
  }
  return exitCode;
}

/**
 * A usage problem as one line that says it all: yargs puts the option, the value and the choices of
 * "Invalid values:" on lines of their own (cut off when only the first was printed), and says "Not enough
 * non-option arguments" of a command given no ids.
 */
function oneLine(problem: string, argv: readonly string[]): string {
  if (/^Not enough non-option arguments/.test(problem)) {
    if (argv[0] === 'completion') return 'completion needs a shell: taskctl completion bash, or taskctl completion zsh';
    return `${argv[0] ?? 'the command'} needs at least one task id, e.g. taskctl ${argv[0] ?? 'cancel'} job-42`;
  }
  return problem
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .join(' ');
}

function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h') || argv.length === 0;
}

function register<Args>(parser: Argv, definition: CommandDefinition<Args>, context: CommandContext, setExitCode: (code: number) => void): void {
  parser.command(definition.command, definition.describe, definition.builder as (y: Argv) => Argv, async (args) => {
    setExitCode(await definition.run(args as unknown as Args, context));
  });
}
