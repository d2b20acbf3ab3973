// The command-line reference (docs/cli.md), written from the same command definitions yargs is given, so
// it cannot disagree with --help. Not part of the bundle: `npm run docs` writes it and a test compares.
import type { Argv } from 'yargs';
import { commands } from './commands.ts';
import { type CommandDefinition, EXIT_CODES_HELP } from './context.ts';

interface OptionSpec {
  readonly alias?: string | readonly string[];
  readonly type?: string;
  readonly array?: boolean;
  readonly choices?: readonly unknown[];
  readonly default?: unknown;
  readonly demandOption?: boolean | string;
  readonly describe?: string;
  readonly hidden?: boolean;
}

/** An option or positional as a command's builder declared it. */
interface Declared {
  readonly name: string;
  readonly spec: OptionSpec;
}

/** What one command's builder declares, in the order it declares it. */
interface Declaration {
  readonly positionals: Declared[];
  readonly options: Declared[];
  readonly examples: Array<readonly [command: string, meaning: string]>;
  readonly epilogues: string[];
}

/**
 * Runs `definition.builder` against a recorder instead of yargs and returns what it declared. Any other
 * call a builder makes (a check, a conflict) is accepted and ignored, so new builders need no change here.
 */
export function declarationOf(definition: CommandDefinition<unknown>): Declaration {
  const declaration: Declaration = { positionals: [], options: [], examples: [], epilogues: [] };
  const recorder: object = new Proxy(
    {},
    {
      get:
        (_target, method) =>
        (...args: unknown[]) => {
          if (method === 'option' || method === 'options') {
            if (typeof args[0] === 'string') declaration.options.push({ name: args[0], spec: (args[1] ?? {}) as OptionSpec });
            else for (const [name, spec] of Object.entries(args[0] as Record<string, OptionSpec>)) declaration.options.push({ name, spec });
          } else if (method === 'positional') declaration.positionals.push({ name: String(args[0]), spec: (args[1] ?? {}) as OptionSpec });
          else if (method === 'example') declaration.examples.push([String(args[0]), String(args[1] ?? '')]);
          else if (method === 'epilogue' || method === 'epilog') declaration.epilogues.push(String(args[0]));
          return recorder;
        },
    },
  );
  definition.builder(recorder as Argv);
  return declaration;
}

/**
 * docs/cli.md: every command, its arguments and options (type, default, env variable), examples and exit
 * codes. The same on every machine and terminal: nothing depends on the width, and defaults computed
 * from the user's environment (the data dir) are written as placeholders.
 */
export function cliReference(definitions: ReadonlyArray<CommandDefinition<any>> = commands): string {
  const declarations = withPlaceholderEnvironment(() => definitions.map((definition) => ({ definition, declaration: declarationOf(definition) })));
  const out: string[] = [
    '# Command-line reference',
    '',
    '<!-- Written by `npm run docs` from the command definitions in src/cli/commands/: change those, then run it. -->',
    '',
    'Every command and option of `taskctl`, generated from the program itself (`taskctl <command> --help` says the',
    'same at the terminal). The guides say when to use them: [commands.md](commands.md), [server.md](server.md),',
    '[workers.md](workers.md), [security.md](security.md).',
    '',
    'Every command takes `--help` (`-h`); `taskctl --version` (`-V`) prints the version and the commit it was built',
    'from. Durations are written like `30s`, `5m`, `1h30m`, `7d`. An option with an env variable reads it when the',
    'option is not given on the command line.',
    '',
    '| command | what it does |',
    '| --- | --- |',
    ...declarations.map(({ definition }) => `| [\`taskctl ${definition.command}\`](#${anchor(definition)}) | ${cell(definition.describe)} |`),
    '',
    '## Exit codes',
    '',
    'The same code means the same thing for every command; each command below lists those it uses.',
    '',
    '| code | meaning |',
    '| --- | --- |',
    ...exitCodes().map(([code, meaning]) => `| ${code} | ${cell(meaning)} |`),
  ];
  for (const { definition, declaration } of declarations) out.push('', ...commandSection(definition, declaration));
  return `${out.join('\n')}\n`;
}

function commandSection(definition: CommandDefinition<unknown>, declaration: Declaration): string[] {
  // Hidden options are left out here as they are from --help.
  const options = declaration.options.filter((option) => !option.spec.hidden);
  const usage = `taskctl ${definition.command}${options.length ? ' [options]' : ''}`;
  const out = [`## taskctl ${commandName(definition)}`, '', text(definition.describe).replace(/\.?$/, '.'), '', '```', usage, '```'];
  if (declaration.positionals.length) {
    out.push('', '| argument | type | description |', '| --- | --- | --- |');
    for (const { name, spec } of declaration.positionals) {
      const shape = positionalShape(definition.command, name);
      // A variadic positional is an array to yargs; "one or more" already says so.
      out.push(`| \`${name}\` | ${typeOf({ ...spec, array: false })}${shape ? `, ${shape}` : ''} | ${cell(describeWithoutDefault(spec))} |`);
    }
  }
  if (options.length) {
    out.push('', '| option | type | default | env | description |', '| --- | --- | --- | --- | --- |');
    for (const { name, spec } of options) {
      const flags = [name, ...aliases(spec)].map((flag) => `\`${flag.length === 1 ? '-' : '--'}${flag}\``).join(', ');
      const env = envVariables(spec)
        .map((variable) => `\`${variable}\``)
        .join(', ');
      out.push(`| ${flags} | ${typeOf(spec)} | ${defaultOf(spec)} | ${env} | ${cell(describeWithoutDefault(spec))} |`);
    }
  }
  if (declaration.examples.length) {
    out.push('', 'Examples:', '', '```');
    for (const [command, meaning] of declaration.examples) out.push(command, `    ${meaning}`);
    out.push('```');
  }
  for (const epilogue of declaration.epilogues) for (const paragraph of epilogue.split(/\n{2,}/)) out.push('', text(paragraph.replace(/\n/g, ' ')));
  return out;
}

/** The exit codes of EXIT_CODES_HELP ("Exit codes: 0 ok; 1 refused or failed (...); ..."), as pairs. */
function exitCodes(): Array<readonly [number, string]> {
  return EXIT_CODES_HELP.replace(/^Exit codes:\s*/, '')
    .replace(/\.$/, '')
    .split(/;\s+(?=\d+ )/)
    .map((entry) => {
      const [, code, meaning] = /^(\d+) (.*)$/s.exec(entry) ?? [];
      if (code === undefined || meaning === undefined) throw new Error(`EXIT_CODES_HELP: cannot read "${entry}"`);
      return [Number(code), meaning] as const;
    });
}

/**
 * Calls `read` with the environment a defaults text depends on set to placeholders (the data dir is the
 * user's), so the reference reads the same wherever it is written.
 */
function withPlaceholderEnvironment<T>(read: () => T): T {
  const saved = process.env.TASKCTL_DATA_DIR;
  process.env.TASKCTL_DATA_DIR = '<data dir>';
  try {
    return read();
  } finally {
    if (saved === undefined) delete process.env.TASKCTL_DATA_DIR;
    else process.env.TASKCTL_DATA_DIR = saved;
  }
}

function commandName(definition: CommandDefinition<unknown>): string {
  return definition.command.split(' ')[0]!;
}

function anchor(definition: CommandDefinition<unknown>): string {
  return `taskctl-${commandName(definition)}`;
}

/** "variadic" or "optional" for `<ids..>` and `[ids..]` in a command's usage. */
function positionalShape(command: string, name: string): string {
  const match = new RegExp(`([<[])${name}(\\.\\.)?[>\\]]`).exec(command);
  if (!match) return '';
  return [match[1] === '[' ? 'optional' : 'required', match[2] ? 'one or more' : ''].filter(Boolean).join(', ');
}

function aliases(spec: OptionSpec): string[] {
  return spec.alias === undefined ? [] : typeof spec.alias === 'string' ? [spec.alias] : [...spec.alias];
}

function typeOf(spec: OptionSpec): string {
  const base = spec.choices ? `one of ${spec.choices.map((choice) => `\`${String(choice)}\``).join(', ')}` : (spec.type ?? 'string');
  return spec.array ? `${base} (repeatable)` : base;
}

// Options whose default depends on other options or on the machine say it in their description, as
// "[default: ...]", which --help shows as yargs shows a declared default.
const DEFAULT_IN_DESCRIPTION = /\s*\[default: ([^\]]+)\]/;

function defaultOf(spec: OptionSpec): string {
  if (spec.demandOption) return 'required';
  if (spec.default !== undefined) return `\`${typeof spec.default === 'string' ? spec.default : JSON.stringify(spec.default)}\``;
  const stated = DEFAULT_IN_DESCRIPTION.exec(spec.describe ?? '')?.[1];
  if (stated === undefined) return '';
  // A value (`taskctl:`, `sqlite:<data dir>/taskctl.db`) is code; a rule ("3 x --watch-timeout") is prose.
  const value = stated.replace(/^"(.*)"$/, '$1');
  return /\s/.test(value.replace(/<[^>]*>/g, '')) ? cell(value) : `\`${value}\``;
}

function describeWithoutDefault(spec: OptionSpec): string {
  return (spec.describe ?? '').replace(DEFAULT_IN_DESCRIPTION, '');
}

function envVariables(spec: OptionSpec): string[] {
  return [...(spec.describe ?? '').matchAll(/\benv (TASKCTL_[A-Z0-9_]+)/g)].map((match) => match[1]!);
}

/** Prose from a definition, safe in Markdown: a `<token>` would otherwise be taken for an HTML tag. */
function text(prose: string): string {
  return prose.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Prose safe in one table cell. */
function cell(prose: string): string {
  return text(prose)
    .replace(/\|/g, '\\|')
    .replace(/\s*\n\s*/g, ' ');
}
