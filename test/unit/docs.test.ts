// The docs hold together: links between pages land on a page and a heading that exist,
// and the README's commands match the package they describe.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { anchorsIn, codeBlockIn, localLinksIn } from '../support/docs.js';

const PAGES = [
  'README.md',
  ...readdirSync('docs')
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

// Written on other branches for issue 17; once they exist they are checked like the rest.
const IN_FLIGHT = new Set(['docs/operators-deploy.md', 'docs/dba-managed-postgres.md']);

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { name: string; version: string; scripts: Record<string, string> };

describe('the docs', () => {
  it.each(PAGES)('%s links only to pages and headings that exist', (page) => {
    const broken: string[] = [];
    for (const link of localLinksIn(readFileSync(page, 'utf8'))) {
      const [target, anchor] = link.split('#') as [string, string | undefined];
      const file = target === '' ? page : path.posix.normalize(path.posix.join(path.posix.dirname(page), target));
      if (!existsSync(file)) {
        if (!IN_FLIGHT.has(file)) broken.push(`${link}: no file ${file}`);
        continue;
      }
      if (anchor !== undefined && !anchorsIn(readFileSync(file, 'utf8')).has(anchor)) broken.push(`${link}: no heading #${anchor} in ${file}`);
    }
    expect(broken).toEqual([]);
  });

  it('README: trying it is npm ci, then npm start, which runs walcast serve', async () => {
    expect(await codeBlockIn('README.md', '## Try it (Node 20+)', 'sh')).toBe('npm ci\nnpm start\n');
    expect(pkg.scripts['start']).toBe('node dist/cli/main.js serve');
  });

  it('README: the package is installed from the tarball npm pack writes, not from the registry', async () => {
    const install = await codeBlockIn('README.md', '## Your own app in five minutes', 'sh');
    const lines = install.split('\n').map((line) => line.replace(/#.*/, '').trim());
    expect(lines[0]).toBe('npm pack');
    expect(lines[1]).toMatch(new RegExp(`npm install \\S*/${pkg.name}-${pkg.version.replaceAll('.', '\\.')}\\.tgz$`));
    expect(install).not.toMatch(new RegExp(`npm install ${pkg.name}\\b`));
  });
});
