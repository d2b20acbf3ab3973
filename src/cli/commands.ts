import { cancelCommand } from './commands/cancel.ts';
import { completionCommand } from './commands/completion.ts';
import { eventsCommand } from './commands/events.ts';
import { topCommand } from './commands/top.ts';
import { serveCommand } from './commands/serve.ts';
import { lsCommand, statusCommand } from './commands/status.ts';
import { tokenCommand } from './commands/token.ts';
import { workCommand } from './commands/work.ts';
import type { CommandDefinition } from './context.ts';

// Every command, registered statically: folder scanning does not survive bundling.
export const commands: ReadonlyArray<CommandDefinition<any>> = [
  serveCommand,
  cancelCommand,
  workCommand,
  statusCommand,
  lsCommand,
  tokenCommand,
  eventsCommand,
  topCommand,
  completionCommand,
];
