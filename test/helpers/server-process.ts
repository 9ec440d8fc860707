import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { PROJECT_ROOT } from '../../src/config/index.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface ServerProcess {
  baseUrl: string;
  child: ChildProcess;
  output(): string;
  /** SIGTERM, wait for exit; true when the service logged its graceful shutdown. */
  stop(): Promise<boolean>;
}

/**
 * Start the service exactly as a user does (`npm start`) on a free port, and wait
 * until /base/health answers.
 */
export async function startServer(env: Record<string, string>, options: { timeoutMs?: number; script?: string } = {}): Promise<ServerProcess> {
  const port = await freePort();
  let output = '';
  const child = spawn('npm', ['run', '--silent', options.script ?? 'start'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // own process group: stop() signals npm, the shell and node together
  });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const baseUrl = `http://127.0.0.1:${port}`;
  // 'close' fires once every process holding the output pipes has exited (npm, sh, node).
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));

  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited early (${child.exitCode}):\n${output}`);
    try {
      const res = await fetch(`${baseUrl}/base/health`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      process.kill(-child.pid!, 'SIGKILL');
      throw new Error(`server did not become healthy in time:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }

  return {
    baseUrl,
    child,
    output: () => output,
    async stop() {
      // npm does not forward signals to its script: signal the whole group, as a supervisor would.
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGTERM');
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
      }, 20_000);
      await exited;
      clearTimeout(timer);
      return output.includes('shutting down');
    },
  };
}
