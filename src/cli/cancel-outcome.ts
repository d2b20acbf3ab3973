import { printable } from '../core/printable.ts';
import type { CancelRecordReply, CancelSourceReply } from '../protocol/schemas.ts';

/**
 * "ops", with the route when it was not a plain API cancel ("ci (deadline)") and who made the link it came
 * through, when that was someone else (without tokens both are "anonymous", and saying so twice is noise).
 */
export function canceller(by: CancelSourceReply): string {
  const link = by.linkedBy === undefined || by.linkedBy === by.name ? '' : ` through a link made by ${by.linkedBy}`;
  return `${by.name}${by.route === 'v1' ? '' : ` (${by.route})`}${link}`;
}

/** What a cancel's answer means for the one who asked it. */
export interface CancelOutcome {
  /** One line, printable: "cancelled x", or whose earlier cancel stands (and that the reason given was not recorded). */
  readonly text: string;
  /** When the record is an earlier cancel: "x was already cancelled at T by ops (reason: R)". */
  readonly earlier?: string | undefined;
  /** A reason was given and the record kept another one (or none): the reason given was not recorded. */
  readonly reasonDropped: boolean;
}

/**
 * What the answer to `cancel id` (with `reason`, if given) says; `time` writes the record's ISO time. The
 * server keeps the first record of a cancel and answers every later one with it, so a record whose reason is
 * not the one sent is an earlier cancel (a retried request that did make the record carries the reason it
 * sent, and reads as made now). With the same reason, or none on either side, the two cannot be told apart,
 * and nothing was lost.
 */
export function cancelOutcome(id: string, reason: string | undefined, record: CancelRecordReply, time = (iso: string) => iso): CancelOutcome {
  if (record.reason === reason) return { text: `cancelled ${printable(id)}${reason ? ` (reason: ${printable(reason)})` : ''}`, reasonDropped: false };
  const earlier = [
    `${printable(id)} was already cancelled at ${time(record.cancelledAt)}`,
    record.by ? ` by ${printable(canceller(record.by))}` : '',
    record.reason === undefined ? ' (no reason given)' : ` (reason: ${printable(record.reason)})`,
  ].join('');
  const reasonDropped = reason !== undefined;
  return { text: reasonDropped ? `${earlier}; the new reason was not recorded` : earlier, earlier, reasonDropped };
}
