// The executable's entry. It does as little as it can before Node's compile cache is on, so that every
// module after it (yargs, the command's code) is read from the cache on later runs, and it answers
// --version without loading the CLI at all: the most frequent call a script makes to check the tool.
import module from 'node:module';
import { COMMIT, VERSION } from '../protocol/build-info.ts';

// The cache lives in the system's temporary folder; NODE_DISABLE_COMPILE_CACHE=1 turns it off.
// (Node before 22.1 has no compile cache: bin/taskctl refuses such a Node, but the bundle may still be run.)
module.enableCompileCache?.();

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  process.stdout.write(`${VERSION} (${COMMIT})\n`);
} else {
  await import('./run-process.ts');
}
