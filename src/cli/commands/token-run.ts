import { randomBytes } from 'node:crypto';
import { scopePatternProblem } from '../../core/task-scope.ts';
import { TOKEN_NAME_PATTERN, tokenHash } from '../../server/auth.ts';
import { type CommandContext, ExitCode, UsageError } from '../context.ts';
import type { TokenArgs } from './token.ts';

// 256 random bits; the prefix lets secret scanners and people recognise a taskctl token when one leaks.
const TOKEN_BYTES = 32;
const TOKEN_PREFIX = 'taskctl_';

/** A fresh token for the tokens file: the token once, and the line that stores only its hash. */
export async function runToken(args: TokenArgs, { stdout }: CommandContext): Promise<number> {
  const name = String(args.name);
  if (!TOKEN_NAME_PATTERN.test(name)) throw new UsageError('name: 1 to 64 letters, digits or . _ @ - (starting with a letter or digit)');
  // Each --scope may itself list patterns separated by commas, as the line does.
  const scope = args.scope?.flatMap((value) => String(value).split(','));
  for (const pattern of scope ?? []) {
    const problem = scopePatternProblem(pattern);
    if (problem !== undefined) throw new UsageError(`--scope: ${problem}`);
  }
  const token = TOKEN_PREFIX + randomBytes(TOKEN_BYTES).toString('base64url');
  const line = `${name} ${args.role} sha256:${tokenHash(token)}${scope ? ` ids=${scope.join(',')}` : ''}`;
  if (args.json) {
    stdout.write(`${JSON.stringify({ name, role: args.role, token, line, ...(scope ? { scope } : {}) })}\n`);
    return ExitCode.ok;
  }
  const reach = scope ? `, only tasks matching ${scope.join(',')}` : '';
  stdout.write(
    `token for ${name} (role ${args.role}${reach}); it is shown only this once:\n\n  ${token}\n\n` +
      `add this line to the tokens file (serve --tokens FILE), then reload the server (kill -HUP <pid>):\n\n  ${line}\n`,
  );
  return ExitCode.ok;
}
