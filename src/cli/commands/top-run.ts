import { z } from 'zod';
import { ClientError, TaskctlClient } from '../../client/client.ts';
import { TaskFeed } from '../../client/task-feed.ts';
import { printable } from '../../core/printable.ts';
import { TopStore, type TopEffect } from '../../ui/top-state.ts';
import { cancelOutcome } from '../cancel-outcome.ts';
import { exitCodeFor, readClientTls, resolveClientOptions } from '../client-options.ts';
import { type CommandContext, ExitCode, UsageError } from '../context.ts';
import { clientTokenSchema, serverUrlSchema, validateOptions, wantsTui } from '../options.ts';
import type { TopArgs } from './top.ts';

const optionsSchema = z.object({ server: serverUrlSchema, token: clientTokenSchema });

/** An ISO time as the screen shows times: the terminal's local clock, to the second. */
const clockTime = (iso: string) => new Date(Date.parse(iso)).toTimeString().slice(0, 8);

/** Runs the top screen until q (or Ctrl-C), or until the server refuses this client. */
export async function runTop(args: TopArgs, { stdout, stderr, stdin, env, shutdown }: CommandContext): Promise<number> {
  const options = validateOptions(optionsSchema, resolveClientOptions(args, env));
  if (!wantsTui(stdout, env, {})) {
    throw new UsageError('top needs a terminal; for a stream of changes use taskctl events --json, for a list taskctl ls');
  }
  const client = new TaskctlClient({ ...options, ...readClientTls(args, env) });
  const feed = new TaskFeed(client);
  const quit = new AbortController();
  const stop = AbortSignal.any([shutdown, quit.signal]);
  const store: TopStore = new TopStore(feed, (effect: TopEffect) => void runEffect(effect));
  const notice = (text: string, error: boolean) => store.dispatch({ type: 'notice', text, error, now: Date.now() });

  /** What a key asked of the server; the outcome goes back to the screen as an action. */
  async function runEffect(effect: TopEffect): Promise<void> {
    if (effect.kind === 'quit') return quit.abort();
    try {
      if (effect.kind === 'open') {
        const reply = await client.task(effect.id, { signal: stop });
        feed.put(reply);
        store.dispatch({ type: 'detail', id: effect.id, reply });
      } else {
        const reason = effect.reason === '' ? undefined : effect.reason;
        const outcome = cancelOutcome(effect.id, reason, await client.cancel(effect.id, { reason, signal: stop }), clockTime);
        // A reason typed in vain shows as a problem, said first: a narrow bottom line is cut at its end.
        notice(outcome.reasonDropped ? `reason not recorded: ${outcome.earlier}` : outcome.text, outcome.reasonDropped);
      }
    } catch (error) {
      if (stop.aborted) return;
      const message = ClientError.from(error).message;
      if (effect.kind === 'open') store.dispatch({ type: 'detail', id: effect.id, error: message });
      else notice(`cannot cancel ${printable(effect.id)}: ${message}`, true);
    }
  }

  const { renderTop } = await import('../../ui/render-top.tsx');
  const stopRendering = renderTop(feed, store, { stdout, stderr, stdin });
  try {
    await feed.run(stop);
  } finally {
    await stopRendering();
    client.close();
  }
  const refusal = feed.state.refusal;
  if (refusal) {
    stderr.write(`taskctl: ${printable(refusal.message)}\n`);
    return exitCodeFor(new ClientError(refusal.kind, refusal.message));
  }
  return ExitCode.ok;
}
