/**
 * Runs the example test in README.md's "Using the library" section exactly as written, so the README
 * cannot drift from the library. The block imports from 'vgpio': it is written to a temporary file
 * inside the repository, where Node's package self-reference resolves 'vgpio' to this package's
 * "exports", i.e. the built dist/ (npm test builds first). Importing it here, while this file is being
 * collected, registers its tests as this file's tests.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** The first ```ts block after the heading `## <section>`, before the next `## ` heading. */
export function codeBlock(markdown: string, section: string): string {
  const start = markdown.indexOf(`\n## ${section}\n`);
  if (start < 0) throw new Error(`README.md has no "## ${section}" section`);
  const next = markdown.indexOf('\n## ', start + 1);
  const body = markdown.slice(start, next < 0 ? undefined : next);
  const match = /\n```ts\n([\s\S]*?)\n```\n/.exec(body);
  if (!match) throw new Error(`the "## ${section}" section of README.md has no \`\`\`ts block`);
  return `${match[1]}\n`;
}

const example = codeBlock(readFileSync(join(root, 'README.md'), 'utf8'), 'Using the library');
const dir = mkdtempSync(join(root, 'test', 'integration', '.readme-example-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'example.ts');
writeFileSync(file, example);

describe('README.md "Using the library"', () => {
  it('is a test file a user can paste: imports from the package, not from src/', () => {
    expect(example).toMatch(/^import \{[^}]*\} from 'vitest';\nimport \{[^}]*\} from 'vgpio';\n/);
    expect(example).not.toMatch(/from '\.{1,2}\//);
    expect(example).toMatch(/\ntest\('/);
  });

  it('codeBlock finds the block of the named section only', () => {
    const md = '# t\n\n## A\n\n```sh\nls\n```\n\n```ts\nconst a = 1;\n```\n\n## B\n\n```ts\nconst b = 2;\n```\n';
    expect(codeBlock(md, 'A')).toBe('const a = 1;\n');
    expect(codeBlock(md, 'B')).toBe('const b = 2;\n');
    expect(() => codeBlock(md, 'C')).toThrow(/no "## C" section/);
    expect(() => codeBlock('\n## D\ntext\n', 'D')).toThrow(/no ```ts block/);
  });

  describe('the example itself', async () => {
    await import(pathToFileURL(file).href);
  });
});
