import yargs, { type Argv } from 'yargs';
import { printable } from '../core/printable.ts';
import { InvalidInputError, preview } from '../core/task-id.ts';
import { COMMIT, VERSION } from '../protocol/build-info.ts';
import { commands } from './commands.ts';
import { type CommandContext, type CommandDefinition, EXIT_CODES_HELP, ExitCode, UsageError } from './context.ts';
import { type DeclaredOptions, joinDashValues } from './dash-values.ts';

/** Runs taskctl with `argv` (without the node and script names) and resolves with the exit code. */
export async function main(argv: readonly string[], context: CommandContext): Promise<number> {
  let exitCode: number = ExitCode.ok;
  let usageProblem: string | undefined;
  // Said here rather than by yargs, whose "Did you mean top?" never names the word it did not know.
  const [first] = argv;
  if (first !== undefined && !first.startsWith('-') && !commands.some((definition) => nameOf(definition) === first)) {
    usageProblem = unknownWord('command', first, commands.map(nameOf));
  }
  usageProblem ??= unquotedReason(argv);
  const parser = yargs(joinDashValues(argv, commands))
    .scriptName('taskctl')
    .usage('taskctl <command> [options]\n\nCancel long-running tasks on workers that nobody can reach.')
    .strict()
    .demandCommand(1, 'name a command')
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
      // A YError is yargs' own word on the command line (an option given no value): a usage problem too.
      throw error === undefined || error === null || error.name === 'YError' ? new UsageError(message ?? error?.message ?? 'bad command line') : error;
    });
  for (const definition of commands) register(parser, definition, context, (code) => (exitCode = code));
  try {
    if (usageProblem === undefined) await parser.parseAsync();
  } catch (error) {
    if (error instanceof UsageError || error instanceof InvalidInputError) usageProblem = oneLine(error.message, argv);
    else throw error;
  }
  if (usageProblem !== undefined) {
    context.stderr.write(`taskctl: ${usageProblem} (see taskctl --help)\n`);
    return ExitCode.usage;
  }
  return exitCode;
}

const nameOf = (definition: { readonly command: string }) => definition.command.split(' ')[0]!;

/**
 * `cancel job-9 --reason wrong dataset`: a reason of several words left unquoted, whose second word would be
 * cancelled as a task. A cancel cannot be taken back, so a word right after the reason's is refused rather
 * than taken for an id; ids go before --reason.
 */
function unquotedReason(argv: readonly string[]): string | undefined {
  if (argv[0] !== 'cancel') return undefined;
  const end = argv.indexOf('--');
  const words = end === -1 ? argv : argv.slice(0, end);
  const at = words.findIndex((arg) => arg === '--reason' || arg === '-r' || arg.startsWith('--reason='));
  if (at === -1) return undefined;
  const apart = !words[at]!.startsWith('--reason=');
  const next = words[apart ? at + 2 : at + 1];
  if (next === undefined || next.startsWith('-')) return undefined;
  const reason = apart ? words[at + 1]! : words[at]!.slice('--reason='.length);
  return `${preview(next)} follows the reason: quote a reason of several words (--reason ${preview(`${reason} ${next}`)}), and put the ids to cancel before --reason`;
}

/**
 * A usage problem as one line that says it all: yargs puts the option, the value and the choices of
 * "Invalid values:" on lines of their own (cut off when only the first was printed), and says "Not enough
 * non-option arguments" of a command given too few words, where the command's `needs` says which.
 */
function oneLine(problem: string, argv: readonly string[]): string {
  // An option that is not one stands behind many other complaints (it took the word meant for an id): it first.
  const known = optionsOf.get(argv[0] ?? '');
  const strays = known === undefined ? [] : argv.filter((arg) => /^--[^-]/.test(arg)).map((arg) => arg.slice(2).split('=')[0]!);
  const kebab = (name: string) => name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
  const unknownNames = strays.filter(
    (name) => ![name, name.replace(/^no-/, ''), kebab(name)].some((form) => known!.includes(form)) && name !== 'help' && name !== 'version',
  );
  if (unknownNames.length > 0 && !/^Unknown arguments?:/.test(problem)) return unknownArguments(unknownNames, argv, known!);
  const needs = commands.find((definition) => nameOf(definition) === argv[0])?.needs;
  if (/^Not enough non-option arguments/.test(problem) && needs !== undefined) return `${argv[0]} needs ${needs}`;
  const valueless = /^Not enough arguments following: (\S+)/.exec(problem)?.[1];
  if (valueless !== undefined) return `${valueless.length === 1 ? '-' : '--'}${valueless} needs a value`;
  // (A required option left out through a slip, `--rle reader`, was named above as the unknown option it is.)
  const missing = /^Missing required arguments?: (.+)$/.exec(problem)?.[1]?.split(', ');
  if (missing !== undefined) return `--${missing.join(', --')} ${missing.length === 1 ? 'is' : 'are'} required`;
  const invalid = /^Invalid values:\s*Argument: (\S+), Given: "((?:[^"\\]|\\.)*)", Choices: (.+)$/s.exec(problem);
  if (invalid !== undefined && invalid !== null) {
    const [, name, given, list] = invalid;
    const choices = Array.from(list!.matchAll(/"([^"]*)"/g), (match) => match[1]!);
    const nearest = nearestName(given!, choices);
    return `--${name}: ${preview(given!)} is not one of ${choices.join(', ')}${nearest ? ` (did you mean ${nearest}?)` : ''}`;
  }
  const unknown = /^Unknown arguments?: (.+)$/.exec(problem)?.[1];
  if (unknown !== undefined) return unknownArguments(unknown.split(', '), argv, optionsOf.get(argv[0] ?? '') ?? []);
  return problem
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .join(' ');
}

/** The long option names of each command, as its builder declared them (for unknownArguments). */
const optionsOf = new Map<string, string[]>();

/**
 * yargs' "Unknown arguments: reasn, sever" as the user typed them (`--reasn`, `-z`, a stray word), each option
 * with the nearest of the command's own when it looks like a typo. yargs also lists the camelCase twin of a
 * dashed word (watch-timout, watchTimout), and takes `--no-x` as x: said once, as typed.
 */
function unknownArguments(words: readonly string[], argv: readonly string[], options: readonly string[]): string {
  const dashed = new Set(words.filter((word) => word.includes('-')).map(camelCase));
  const said = words
    .filter((word) => !dashed.has(word) || word.includes('-'))
    .map((word) => {
      const typed = [`--${word}`, `--no-${word}`, `-${word}`].find((form) => argv.some((arg) => arg === form || arg.startsWith(`${form}=`)));
      const bundled = word.length === 1 && argv.some((arg) => /^-[^-]/.test(arg) && arg.includes(word));
      if (typed === undefined && !bundled) return `unexpected argument ${preview(word)}`;
      const name = typed ?? `-${word}`;
      // A single letter is too short to be a slip for anything; and an option's name is not suggested for a
      // word it merely starts (`--reason<junk>` is not a slip for --reason).
      const nearest = word.length > 1 ? nearestName(word, options, { prefixes: false }) : undefined;
      return `unknown option ${printable(name.length > 60 ? `${name.slice(0, 60)}…` : name)}${nearest ? ` (did you mean --${nearest}?)` : ''}`;
    });
  return [...new Set(said)].join('; ');
}

// The longest word a suggestion is looked for (longer than any name by far): past it a typo is unlikely,
// and the edit distance costs its square to work out.
const MAX_SUGGESTED_NAME = 64;

const camelCase = (name: string) => name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());

function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h') || argv.length === 0;
}

function register<Args>(parser: Argv, definition: CommandDefinition<Args>, context: CommandContext, setExitCode: (code: number) => void): void {
  const builder = (y: Argv) => {
    const built = definition.builder(y) as unknown as Argv;
    const declared = (built as unknown as { getOptions(): DeclaredOptions }).getOptions();
    const { alias, choices } = declared;
    // An option that takes a value and is given none (`serve -p`) is a mistake, not a request for its
    // default: yargs would otherwise serve on 8080 when the user meant to name a port.
    const words = new Set(Array.from(definition.command.matchAll(/[<[](\w+)/g), (match) => match[1]!));
    optionsOf.set(
      nameOf(definition),
      Object.keys(declared.key).filter((name) => name.length > 1 && name === name.toLowerCase() && !words.has(name)),
    );
    const valued = [...declared.string, ...declared.number].filter((key) => !words.has(key) && !declared.boolean.includes(key));
    if (valued.length > 0) built.requiresArg(valued);
    // Tab completion lists every option name yargs knows, aliases too, and writes them after the "--" being
    // completed: -s became a bogus --s. Hidden, an alias still works and --help still shows it beside its
    // option (-s, --server), but completion offers only the long name.
    for (const names of Object.values(alias)) for (const name of names) if (name.length === 1) built.hide(name);
    // A word that picks among choices (token's subcommand, completion's shell) is checked before yargs
    // validates anything else: otherwise `token nwe x` is told that --role is missing.
    const positionals = Array.from(definition.command.matchAll(/[<[](\w+)/g), (match) => match[1]!).filter((name) => choices[name] !== undefined);
    if (positionals.length === 0) return built;
    return built.middleware((args) => {
      for (const name of positionals) {
        const given = args[name];
        if (given !== undefined && !choices[name]!.includes(String(given)))
          throw new UsageError(unknownWord(`${nameOf(definition)} ${name}`, String(given), choices[name]!));
      }
    }, true);
  };
  parser.command(definition.command, definition.describe, builder, async (args) => {
    setExitCode(await definition.run(args as unknown as Args, context));
  });
}

/** `word` is none of `names`: says so, suggests the nearest of them when it is a likely typo, and lists them all. */
function unknownWord(what: string, word: string, names: readonly string[]): string {
  const nearest = nearestName(word, names);
  return `unknown ${what} ${preview(word)}${nearest ? ` (did you mean ${nearest}?)` : ''}; ${what}s: ${names.join(', ')}`;
}

/**
 * The one of `names` that `word` is most likely a slip for: one slip (a letter wrong, missing, extra, or two
 * swapped) in a short name, two in a longer one; with `prefixes`, also one that starts the word, or that it
 * starts (worker, work).
 */
function nearestName(word: string, names: readonly string[], { prefixes = true } = {}): string | undefined {
  if (word.length > MAX_SUGGESTED_NAME) return undefined;
  const likely = ({ name, distance }: { name: string; distance: number }) =>
    distance <= (name.length <= 4 ? 1 : 2) || (prefixes && Math.min(word.length, name.length) >= 3 && (word.startsWith(name) || name.startsWith(word)));
  return names
    .map((name) => ({ name, distance: editDistance(word, name) }))
    .filter(likely)
    .sort((a, b) => a.distance - b.distance)[0]?.name;
}

/** Edits (insert, delete, replace, swap two neighbours) that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}
