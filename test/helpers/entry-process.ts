/**
 * An entry point (`src/main.ts`, `src/worker.ts`) run as the Docker image runs it:
 * `node --import tsx <entry>`, no npm in between, so the exit code and the signals are
 * the service's own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { PROJECT_ROOT } from '../../src/config/index.js';

export interface EntryProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves once the process has exited, with its exit code (null when a signal ended it). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Wait until the output contains `text`; rejects if the process exits first or after `timeoutMs`. */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
  /** SIGKILL if still running (cleanup). */
  kill(): void;
}

export function startEntry(entry: 'src/main.ts' | 'src/worker.ts', env: Record<string, string>): EntryProcess {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => {
      done = true;
      resolve({ code, signal });
    }),
  );
  return {
    child,
    output: () => output,
    exited,
    async waitFor(text, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      const found = () => (typeof text === 'string' ? output.includes(text) : text.test(output));
      while (!found()) {
        if (done) throw new Error(`${entry} exited before logging ${String(text)}:\n${output}`);
        if (Date.now() > deadline) throw new Error(`${entry} did not log ${String(text)} in time:\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    kill() {
      if (!done) child.kill('SIGKILL');
    },
  };
}
