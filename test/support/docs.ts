// Reads the Markdown docs the way the doc tests need them: a section by its heading, a
// code block inside it, headings and links outside code blocks.
import { readFile } from 'node:fs/promises';

/** The text under `heading` (a whole line, e.g. `## Edits`) up to the next heading of its level or above. */
export async function sectionOf(file: string, heading: string): Promise<string> {
  const text = await readFile(file, 'utf8');
  const lines = text.split('\n');
  const start = lines.indexOf(heading);
  if (start < 0) throw new Error(`${file} has no line "${heading}"`);
  const level = heading.indexOf(' ');
  const end = lines.findIndex((line, index) => index > start && /^#{1,6} /.test(line) && line.indexOf(' ') <= level && !insideFence(lines, index));
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}

function insideFence(lines: readonly string[], index: number): boolean {
  return lines.slice(0, index).filter((line) => line.startsWith('```')).length % 2 === 1;
}

/** The first ```lang block of a section; fails when the section has none. */
export async function codeBlockIn(file: string, heading: string, lang: string): Promise<string> {
  const section = await sectionOf(file, heading);
  const match = new RegExp(`^\`\`\`${lang}\\n([\\s\\S]*?)^\`\`\``, 'm').exec(section);
  if (!match) throw new Error(`no \`\`\`${lang} block under "${heading}" in ${file}`);
  return match[1]!;
}

/** The text without fenced code blocks (a `#` comment in a shell block is not a heading). */
export function withoutCode(markdown: string): string {
  return markdown.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, '');
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
export function anchorOf(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/ /g, '-');
}

export function anchorsIn(markdown: string): Set<string> {
  return new Set([...withoutCode(markdown).matchAll(/^#{1,6} (.+)$/gm)].map((match) => anchorOf(match[1]!)));
}

/** Relative links (`[text](path#anchor)`), not URLs. */
export function localLinksIn(markdown: string): string[] {
  const withoutInline = withoutCode(markdown).replace(/`[^`\n]*`/g, '');
  return [...withoutInline.matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1]!).filter((target) => !/^[a-z]+:/.test(target));
}
