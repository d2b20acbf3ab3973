// Every relative link in README.md and docs/ leads somewhere: the file exists, and a #fragment names a
// heading of it as GitHub renders it. A guide renamed or a heading reworded without its links fails here.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const root = fileURLToPath(new URL('../..', import.meta.url));
const pages = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

/** The text of a page outside fenced code blocks and inline code, where links are links. */
function prose(markdown: string): string {
  return markdown.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, '').replace(/`[^`\n]*`/g, (code) => (code.includes('](') ? '' : code));
}

/** The fragment GitHub gives each heading: lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const [, heading] of markdown.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, '').matchAll(/^#{1,6} +(.+?) *#*$/gm)) {
    const slug = heading!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

test('the guides are there: README.md links into docs/, and docs/ has more than one page', () => {
  assert.ok(pages.length > 5, pages.join(', '));
  assert.match(readFileSync(join(root, 'README.md'), 'utf8'), '](docs/cli.md)');
});

test('every relative link in README.md and docs/ resolves, to a file and to a heading in it', () => {
  const broken: string[] = [];
  for (const page of pages) {
    const markdown = readFileSync(join(root, page), 'utf8');
    for (const [, target] of prose(markdown).matchAll(/\]\(([^)\s]+)(?: "[^"]*")?\)/g)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target!)) continue; // https:, mailto: and the like
      const [path, fragment] = target!.split('#') as [string, string | undefined];
      const file = path === '' ? join(root, page) : join(dirname(join(root, page)), decodeURIComponent(path));
      if (!existsSync(file)) {
        broken.push(`${page}: ${target} (no file ${relative(root, file)})`);
        continue;
      }
      if (fragment !== undefined && file.endsWith('.md') && !headingAnchors(readFileSync(file, 'utf8')).has(fragment)) {
        broken.push(`${page}: ${target} (no heading #${fragment} in ${relative(root, file)})`);
      }
    }
  }
  assert.ok(broken.length === 0, `broken links:\n${broken.join('\n')}`);
});

test("the heading anchors are GitHub's", () => {
  const anchors = headingAnchors(
    '# A\n## `taskctl status <ids..>` and `taskctl ls [--state S]`\n## What it keeps, and for how long\n## Notes\n## Notes\n```\n# not a heading\n```\n## 任务 ID\n',
  );
  assert.equal([...anchors], ['a', 'taskctl-status-ids-and-taskctl-ls---state-s', 'what-it-keeps-and-for-how-long', 'notes', 'notes-1', '任务-id']);
});

test.run();
