import { z } from 'zod';
import { preview } from '../core/task-id.ts';
import { durationSchema, firstProblem } from '../protocol/schemas.ts';
import { UsageError } from './context.ts';

/** Validates parsed options with `schema`; the first problem becomes a one-line UsageError. */
export function validateOptions<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0];
    const [key, index] = issue?.path ?? [];
    // Positional task ids are named by their value; options by their flag.
    const where =
      key === 'ids' && typeof index === 'number'
        ? `${preview(String((input as { ids: unknown[] }).ids[index]), 80)}: `
        : key !== undefined
          ? `--${String(key).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: `
          : '';
    // yargs makes an array of an option given twice; zod would call that "expected string, received array".
    const givenTwice = key !== 'ids' && key !== undefined && issue?.code === 'invalid_type' && Array.isArray((input as Record<PropertyKey, unknown>)[key]);
    throw new UsageError(`${where}${givenTwice ? 'given more than once; give it once' : (issue?.message ?? firstProblem(result.error))}`);
  }
  return result.data;
}

/** Whether the interactive screen is drawn: a terminal, not CI, and not turned off by flags. */
export function wantsTui(stdout: NodeJS.WriteStream, env: NodeJS.ProcessEnv, flags: { json?: boolean; tui?: boolean }): boolean {
  if (flags.json || flags.tui === false) return false;
  if (env.CI && env.CI !== 'false' && env.CI !== '0') return false;
  if (env.TERM === 'dumb') return false;
  return stdout.isTTY === true;
}

/**
 * A whole-number option from `min` to `max`, every problem said as the one range it must be in. yargs reads
 * a word that is no number ("-p abc") as NaN, which zod would otherwise call "expected number, received NaN".
 */
export function wholeNumberOption(min: number, max?: number) {
  const must = max === undefined ? `must be a whole number, at least ${min}` : `must be a whole number from ${min} to ${max}`;
  const schema = z.number({ error: must }).int(must).min(min, must);
  return max === undefined ? schema : schema.max(max, must);
}

/** A client's token: one with spaces around it could never match, and a stray newline would not be sendable at all. */
export const clientTokenSchema = z
  .string()
  .refine((token) => token.trim() === token, 'must not start or end with whitespace (a stray newline from a file, or in TASKCTL_TOKEN?)')
  .optional();

export const serverUrlSchema = z.string().refine((text) => {
  try {
    return ['http:', 'https:'].includes(new URL(text).protocol);
  } catch {
    return false;
  }
}, 'must be an http:// or https:// URL, e.g. http://127.0.0.1:8080');

/**
 * A duration option's value, as durationSchema reads it, with a negative one refused as such: every
 * duration taskctl takes counts forward (from now, or from a step), and "-5m" would otherwise be called no
 * duration at all.
 */
export const durationOptionSchema = z
  .string()
  .superRefine((text, ctx) => {
    if (/^\s*-/.test(text))
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(text)} is negative: durations here count forward, e.g. ${text.replace(/^\s*-+/, '')}` });
  })
  .pipe(durationSchema);

/**
 * A required positional of task ids (`<ids..>`). Without a default of its own, yargs gives it `[]` and shows
 * `[default: []]` in --help, which reads as if no id were needed. (Not for an optional `[ids..]`: there an
 * undefined default makes yargs pass `[undefined]` when none is given.)
 */
export function idsPositional(describe: string) {
  return { type: 'string', array: true, describe, default: undefined } as const;
}
