// The PostgreSQL store's pure parts: its --store URL, and the NOTIFY payloads. No database needed.
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { InvalidInputError } from '../../src/core/task-id.ts';
import { idChunks, idsOf } from '../../src/store/postgres/notify-payload.ts';
import { isPostgresSpec, parsePostgresSpec } from '../../src/store/postgres/url.ts';

test('a postgres URL: listen=off is taken out for taskctl, the rest goes to the client, the password is never shown', () => {
  const spec = parsePostgresSpec('postgres://taskctl:s3cret@db:5432/ops?sslmode=verify-full&listen=off&application_name=ops-taskctl');
  assert.is(spec.listen, false);
  assert.is(spec.url, 'postgres://taskctl:s3cret@db:5432/ops?sslmode=verify-full&application_name=ops-taskctl');
  assert.is(spec.shown, 'postgres://taskctl:***@db:5432/ops?sslmode=verify-full&listen=off&application_name=ops-taskctl');
  assert.is(spec.hasApplicationName, true);
  assert.is(parsePostgresSpec('postgresql://db/ops').listen, true);
  assert.ok(
    isPostgresSpec('postgresql://db/ops') && isPostgresSpec('postgres://db') && !isPostgresSpec('redis://db') && !isPostgresSpec('sqlite:postgres://x'),
  );
});

test('a postgres URL taskctl cannot use is an InvalidInputError saying what to write', () => {
  for (const [spec, message] of [
    ['postgres://db/ops?listen=no', /listen="no": use listen=off/],
    ['postgres://db/ops?sslmode=always', /sslmode="always": use disable, prefer, require, verify-ca or verify-full/],
    ['postgres://u:pw@[bad/ops', /is not a URL/],
  ] as const) {
    try {
      parsePostgresSpec(spec);
      assert.unreachable(spec);
    } catch (error) {
      assert.instance(error, InvalidInputError);
      assert.match((error as Error).message, message);
      assert.not.match((error as Error).message, /pw/, 'no password in the message');
    }
  }
});

test('the store URLs in docs/several-servers.md are ones taskctl accepts', () => {
  const doc = readFileSync(new URL('../../docs/several-servers.md', import.meta.url), 'utf8');
  const urls = [...doc.matchAll(/--store '(postgres:\/\/[^']+)'/g)].map((match) => match[1]!);
  assert.ok(urls.length >= 2, `the doc's examples: ${urls.length}`);
  for (const url of urls) parsePostgresSpec(url);
  assert.ok(
    urls.some((url) => parsePostgresSpec(url).listen === false),
    'the PgBouncer example turns listening off',
  );
});

test('a cancel notification names every id of its group in payloads under 8,000 bytes', () => {
  const ids = Array.from({ length: 3_000 }, (_, i) => `task-${String(i).padStart(5, '0')}-ü`);
  const chunks = idChunks(ids);
  assert.ok(chunks.length > 1);
  assert.ok(chunks.every((chunk) => Buffer.byteLength(chunk) < 8_000));
  assert.equal(chunks.flatMap(idsOf), ids);
  const longest = 'x'.repeat(256);
  assert.ok(
    idChunks(Array(100).fill(longest)).every((chunk) => Buffer.byteLength(chunk) < 8_000),
    'ids of the longest kind',
  );
  assert.equal(idChunks(['only']), ['only']);
  assert.equal(idChunks([]), []);
});

test.run();
