// README.md stays a front door: short enough to read in a minute, and a way into every guide.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const readmeUrl = new URL('../../README.md', import.meta.url);
const readme = readFileSync(readmeUrl, 'utf8');

test('README.md is at most 16 KB', () => {
  const bytes = statSync(readmeUrl).size;
  assert.ok(bytes <= 16 * 1024, `README.md is ${bytes} bytes; move detail into a guide under docs/`);
});

test('README.md links to every guide in docs/', () => {
  const guides = readdirSync(new URL('../../docs/', import.meta.url)).filter((name) => name.endsWith('.md'));
  const unlinked = guides.filter((name) => !readme.includes(`](docs/${name})`) && !readme.includes(`](docs/${name}#`));
  assert.equal(unlinked, [], 'guides the README does not link to');
});

test('README.md says how to install, how to start, and how to develop, in that order', () => {
  const order = ['## Install', '## Five minutes with it', 'npm install && npm start', 'npm install && npm test'].map((text) => readme.indexOf(text));
  assert.ok(
    order.every((index) => index >= 0),
    `missing: ${order}`,
  );
  assert.equal(
    [...order].sort((a, b) => a - b),
    order,
  );
});

test.run();
