// `npm run docs`: writes docs/cli.md from the command definitions. test/docs/cli-reference.test.ts fails
// while the committed file differs from what this writes.
import { writeFileSync } from 'node:fs';
import { cliReference } from '../src/cli/reference.ts';

writeFileSync(new URL('../docs/cli.md', import.meta.url), cliReference());
