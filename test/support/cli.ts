// Runs the built `walcast` command as a user would: a real process, its output captured.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';

const BIN = path.resolve('dist/cli/main.js');

export interface Run {
  readonly child: ChildProcessWithoutNullStreams;
  output: string;
  readonly exited: Promise<number | null>;
}

export function runCli(args: string[], env: Record<string, string>): Run {
  const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env['PATH'] ?? '', ...env } });
  const run: Run = {
    child,
    output: '',
    exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
  };
  child.stdout.on('data', (chunk: Buffer) => (run.output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (run.output += chunk.toString()));
  return run;
}

export async function waitForOutput(run: Run, pattern: RegExp, timeout = 30_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const match = pattern.exec(run.output);
    if (match) return match;
    if (Date.now() > deadline || run.child.exitCode !== null) throw new Error(`no ${pattern} in output:\n${run.output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
