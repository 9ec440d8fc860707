/**
 * The PGlite folder lock: a pid means something only inside one PID namespace of one boot
 * of one kernel, so a lock is taken over only when it provably comes from a dead process
 * of this host and namespace; anything else is refused, naming the lock file to remove.
 */
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/config/index.js';
import { DatabaseLockedError, LOCK_HEARTBEAT_MS, LOCK_STALE_MS, openDatabase } from '../../src/db/client.js';
import { tempDir } from '../helpers/config.js';
import { silentLogger } from '../helpers/databases.js';

const run = promisify(execFile);

/** Who this test process is, as the lock file records it. */
function thisProcess() {
  return {
    hostname: os.hostname(),
    platform: process.platform,
    bootId: fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
    pidNamespace: fs.readlinkSync('/proc/self/ns/pid'),
  };
}

function lockFile(holder: Record<string, unknown>): string {
  return JSON.stringify({ ...thisProcess(), since: new Date().toISOString(), token: 'earlier-lock', ...holder });
}

const open = (dir: string) => openDatabase({ url: null, pgliteDir: dir, logger: silentLogger });

/** Opens `dir` in a separate node process (optionally behind a command such as unshare). */
async function openInChild(dir: string, wrapper: string[] = []): Promise<{ opened: boolean; name?: string; message?: string }> {
  const client = pathToFileURL(path.join(PROJECT_ROOT, 'src/db/client.ts')).href;
  const script = `
    import { pino } from 'pino';
    const { openDatabase } = await import(${JSON.stringify(client)});
    try {
      const database = await openDatabase({ url: null, pgliteDir: process.argv[1], logger: pino({ level: 'silent' }) });
      await database.close();
      console.log(JSON.stringify({ opened: true }));
    } catch (err) {
      console.log(JSON.stringify({ opened: false, name: err.name, message: err.message }));
    }`;
  const node = [process.execPath, '--import', 'tsx', '--input-type=module', '-e', script, dir];
  const [command, ...args] = [...wrapper, ...node];
  const { stdout } = await run(command!, args, { cwd: PROJECT_ROOT });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

const canUnsharePid = process.platform === 'linux' && spawnSync('unshare', ['-Urpf', '--mount-proc', 'true']).status === 0;

describe.runIf(process.platform === 'linux')('PGlite folder lock', () => {
  const otherNamespace = 'pid:[4026500001]';
  const otherBoot = '00000000-0000-4000-8000-000000000000';

  it.each([
    ['pid 1 of another container on this host', { pid: 1, hostname: 'f3a1c0ffee42', pidNamespace: otherNamespace }],
    ['pid 1 of another container with the same hostname', { pid: 1, pidNamespace: otherNamespace }],
    ['our own pid in another namespace', { pid: process.pid, pidNamespace: otherNamespace }],
    ['a dead pid on another machine', { pid: 999_999_999, hostname: 'other-host', bootId: otherBoot }],
  ])('refuses a lock held by %s, naming the lock file', async (_, holder) => {
    const tmp = tempDir();
    const dir = path.join(tmp.dir, 'pglite');
    const lockPath = `${dir}.lock`;
    try {
      const content = lockFile(holder);
      fs.writeFileSync(lockPath, content);
      const refusal = await open(dir).catch((err: unknown) => err);
      expect(refusal).toBeInstanceOf(DatabaseLockedError);
      expect((refusal as Error).message).toContain(`pid ${holder.pid}`);
      expect((refusal as Error).message).toContain('taken over at the next start');
      expect((refusal as Error).message).toContain(`remove the stale lock file ${lockPath}`);
      expect(fs.readFileSync(lockPath, 'utf8')).toBe(content);
    } finally {
      tmp.cleanup();
    }
  });

  it.each([
    ['pid 1', '1'],
    ['our own pid', String(process.pid)],
    ['a dead pid', '999999999'],
    ['nothing readable', ''],
  ])('refuses a lock file of the earlier format (%s): it does not say which host or namespace wrote it', async (_, content) => {
    const tmp = tempDir();
    const dir = path.join(tmp.dir, 'pglite');
    const lockPath = `${dir}.lock`;
    try {
      fs.writeFileSync(lockPath, content);
      const refusal = await open(dir).catch((err: unknown) => err);
      expect(refusal).toBeInstanceOf(DatabaseLockedError);
      expect((refusal as Error).message).toContain(`remove the stale lock file ${lockPath}`);
      expect(fs.readFileSync(lockPath, 'utf8')).toBe(content);
    } finally {
      tmp.cleanup();
    }
  });

  it.each([
    ['pid 1 of another container (killed, then restarted)', { pid: 1, pidNamespace: otherNamespace }],
    ['a process on another host', { pid: 1, hostname: 'other-host', bootId: otherBoot }],
  ])('takes over a lock held by %s once it has not been refreshed for the stale time', async (_, holder) => {
    const tmp = tempDir();
    const dir = path.join(tmp.dir, 'pglite');
    const lockPath = `${dir}.lock`;
    try {
      fs.writeFileSync(lockPath, lockFile(holder));
      const silent = new Date(Date.now() - LOCK_STALE_MS - 5_000);
      fs.utimesSync(lockPath, silent, silent);
      const database = await open(dir);
      expect(JSON.parse(fs.readFileSync(lockPath, 'utf8'))).toMatchObject({ ...thisProcess(), pid: process.pid });
      await database.close();
      expect(fs.existsSync(lockPath)).toBe(false);
    } finally {
      tmp.cleanup();
    }
  });

  it('takes over at once a lock from an earlier boot of this machine (a power cut), however fresh its time', async () => {
    const tmp = tempDir();
    const dir = path.join(tmp.dir, 'pglite');
    const lockPath = `${dir}.lock`;
    try {
      fs.writeFileSync(lockPath, lockFile({ pid: process.pid, bootId: otherBoot }));
      const database = await open(dir);
      expect(JSON.parse(fs.readFileSync(lockPath, 'utf8'))).toMatchObject({ ...thisProcess(), pid: process.pid });
      await database.close();
    } finally {
      tmp.cleanup();
    }
  });

  it('refreshes its own lock while open (the heartbeat other containers judge it by)', async () => {
    const tmp = tempDir();
    const dir = path.join(tmp.dir, 'pglite');
    const lockPath = `${dir}.lock`;
    try {
      const database = await open(dir);
      try {
        const old = new Date(Date.now() - LOCK_STALE_MS);
        fs.utimesSync(lockPath, old, old);
        await new Promise((r) => setTimeout(r, LOCK_HEARTBEAT_MS + 1_000));
        // A beat has touched the file since it was set back: its time moved past the stale age.
        expect(fs.statSync(lockPath).mtimeMs).toBeGreaterThan(old.getTime() + LOCK_STALE_MS / 2);
      } finally {
        await database.close();
      }
    } finally {
      tmp.cleanup();
    }
  }, 30_000);

  it('takes over stale locks of this host and namespace, and refuses every second opener while open', async () => {
    const tmp = tempDir();
    const dir = path.join(tmp.dir, 'pglite');
    const lockPath = `${dir}.lock`;
    try {
      // An earlier process with our pid (a restart in the same namespace, started at another time) is gone.
      fs.writeFileSync(lockPath, lockFile({ pid: process.pid, processStart: '1' }));
      const first = await open(dir);
      const held = JSON.parse(fs.readFileSync(lockPath, 'utf8'));
      expect(held).toMatchObject({ ...thisProcess(), pid: process.pid });
      expect(held.token).not.toBe('earlier-lock');
      // A second open in this very process would corrupt the folder just the same.
      await expect(open(dir)).rejects.toThrow(/already open in this process/);
      // Closing leaves alone a lock that is no longer ours (removed by hand, taken by another).
      const other = lockFile({ pid: process.ppid, token: 'someone-else' });
      fs.writeFileSync(lockPath, other);
      await first.close();
      expect(fs.readFileSync(lockPath, 'utf8')).toBe(other);

      // A dead pid of this namespace, as before.
      fs.writeFileSync(lockPath, lockFile({ pid: 999_999_999 }));
      const second = await open(dir);
      try {
        const [sibling, container] = await Promise.all([
          openInChild(dir),
          // Node as pid 1 of a fresh PID namespace, as in a second container on the same volume.
          canUnsharePid ? openInChild(dir, ['unshare', '-Urpf', '--mount-proc']) : null,
        ]);
        expect(sibling).toMatchObject({ opened: false, name: 'DatabaseLockedError' });
        expect(sibling.message).toContain(`in use by another toolcontrol process (pid ${process.pid})`);
        if (container) {
          expect(container).toMatchObject({ opened: false, name: 'DatabaseLockedError' });
          expect(container.message).toContain(`pid ${process.pid}`);
          expect(container.message).toContain(`remove the stale lock file ${lockPath}`);
        }
      } finally {
        await second.close();
      }
      expect(fs.existsSync(lockPath)).toBe(false);
    } finally {
      tmp.cleanup();
    }
  });
});
