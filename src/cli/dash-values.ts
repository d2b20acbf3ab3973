import yargs, { type Argv } from 'yargs';

/** A command as far as its options go: its name and the builder that declares them. */
interface CommandShape {
  readonly command: string;
  readonly builder: (yargs: Argv) => unknown;
}

/** The options of one command, as a word on the command line may name them. */
interface OptionNames {
  /** Long names and one-letter aliases of the options that take a value (string or number). */
  readonly valued: ReadonlySet<string>;
  /** Every name and alias, of options with a value or not (help, version, flags). */
  readonly all: ReadonlySet<string>;
}

/** What yargs' getOptions() holds (it is missing from @types/yargs). */
export interface DeclaredOptions {
  /** Every option and positional name, as keys. */
  readonly key: Readonly<Record<string, unknown>>;
  readonly string: readonly string[];
  readonly number: readonly string[];
  readonly boolean: readonly string[];
  readonly count: readonly string[];
  readonly alias: Readonly<Record<string, readonly string[]>>;
  readonly choices: Readonly<Record<string, readonly string[] | undefined>>;
}

function optionNames(definition: CommandShape): OptionNames {
  const options = (definition.builder(yargs([])) as unknown as { getOptions(): DeclaredOptions }).getOptions();
  const aliasesOf = (key: string) => [key, ...(options.alias[key] ?? [])];
  const flags = new Set([...options.boolean, ...options.count].flatMap(aliasesOf));
  const valued = new Set([...options.string, ...options.number].flatMap(aliasesOf).filter((name) => !flags.has(name)));
  // -h and -V are aliases given on the top-level parser, which this fresh one has not seen.
  return { valued, all: new Set([...valued, ...flags, 'h', 'V']) };
}

/** Whether `word` is one of the command's own short flags, or a group of them (-h, -V, -s, -js). */
function isShortFlags(word: string, names: OptionNames): boolean {
  const letters = Array.from(word.slice(1));
  return letters.length > 0 && letters.every((letter) => names.all.has(letter));
}

/**
 * The command line with each value that starts with "-" joined to its option: `--after -5m` becomes
 * `--after=-5m`. yargs reads such a word as flags of its own, so the option got no value and the flags did
 * what they do: `cancel x --after -1h30m` printed the help (-h) and exited 0, cancelling nothing, and
 * `--reason -oops` ended in "Unknown arguments: o, p". getopt's rule instead: the word after an option that
 * takes a value is that value, unless it is one of the command's own short flags (`--reason -h` still asks
 * for help). A word starting with "--" is left alone, so a forgotten value is not filled with a mistyped
 * flag. Joined, the value is checked like any other: a negative duration is refused as such.
 */
export function joinDashValues(argv: readonly string[], definitions: readonly CommandShape[]): string[] {
  const definition = definitions.find((d) => d.command.split(' ')[0] === argv[0]);
  const end = argv.indexOf('--');
  const options = argv.slice(0, end === -1 ? argv.length : end);
  // Only a word that could be a dashed value costs a look at the command's options.
  if (definition === undefined || !options.some((word, i) => i > 0 && /^-[^-]/.test(word))) return [...argv];
  const names = optionNames(definition);
  const joined: string[] = [];
  for (let i = 0; i < options.length; i++) {
    const word = options[i]!;
    const next = options[i + 1];
    const name = /^--[^=]+$/.test(word) ? word.slice(2) : /^-[^-]$/.test(word) ? word.slice(1) : undefined;
    if (name !== undefined && names.valued.has(name) && next !== undefined && /^-([^-]|$)/.test(next) && !isShortFlags(next, names)) {
      joined.push(`${word}=${next}`);
      i++;
    } else joined.push(word);
  }
  return end === -1 ? joined : [...joined, ...argv.slice(end)];
}
