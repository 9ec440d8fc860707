import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createFsMediaStore, newMediaKey, validateMediaKey, type FsMediaStore } from '../../src/media/media-store.js';
import { BadRequestError } from '../../src/shared/errors.js';
import { tempDir } from '../helpers/config.js';

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('filesystem media store', () => {
  const tmp = tempDir();
  const root = path.join(tmp.dir, 'media');
  const secret = path.join(tmp.dir, 'secret.txt');
  let store: FsMediaStore;

  beforeAll(() => {
    fs.writeFileSync(secret, 'outside the store');
    store = createFsMediaStore({ root });
  });
  afterAll(() => tmp.cleanup());

  it('stores and reads back, creating folders, with a content type from the name', async () => {
    const key = newMediaKey('operation', 'annotated.jpg', new Date('2026-11-22T10:00:00Z'));
    expect(key).toMatch(/^operations\/2026\/11\/[0-9a-f-]{36}_annotated\.jpg$/);
    await store.put(key, Buffer.from('jpeg bytes'), 'image/jpeg');
    const file = await store.get(key);
    expect(file).toMatchObject({ size: 10, contentType: 'image/jpeg' });
    expect((await readAll(file!.stream)).toString()).toBe('jpeg bytes');
    expect(await store.exists(key)).toBe(true);
  });

  it('writes atomically: no temporary file is left, a rewrite replaces the whole file', async () => {
    const key = 'previews/2026/11/atomic_annotated.jpg';
    await store.put(key, Buffer.alloc(1000, 1), 'image/jpeg');
    await store.put(key, Buffer.alloc(10, 2), 'image/jpeg');
    const files = fs.readdirSync(path.join(root, 'previews/2026/11'));
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect((await store.get(key))!.size).toBe(10);
  });

  it('deletes idempotently', async () => {
    const key = 'previews/2026/11/gone.jpg';
    await store.put(key, Buffer.from('x'), 'image/jpeg');
    await store.delete(key);
    await store.delete(key);
    expect(await store.get(key)).toBeNull();
  });

  it.each(['../secret.txt', '..%2fsecret.txt', '%2e%2e/secret.txt', '/etc/passwd', 'a/../../secret.txt', 'a\\..\\secret.txt', 'a/./b.jpg', 'x\0.jpg', '', 'a//b.jpg', '..', 'a/..', '%252e%252e/secret.txt', 'a/b.jpg/', ' a.jpg', 'а.jpg' /* Cyrillic а */])(
    'refuses the key %j',
    async (key) => {
      await expect(store.get(key)).rejects.toBeInstanceOf(BadRequestError);
      await expect(store.put(key, Buffer.from('x'), 'image/jpeg')).rejects.toBeInstanceOf(BadRequestError);
      await expect(store.delete(key)).rejects.toBeInstanceOf(BadRequestError);
    },
  );

  it('never follows a symlink out of the store: reads, writes and deletes refused or treated as absent', async () => {
    fs.mkdirSync(path.join(root, 'previews'), { recursive: true });
    fs.symlinkSync(secret, path.join(root, 'previews', 'link.jpg'));
    fs.symlinkSync(tmp.dir, path.join(root, 'escape'));
    expect(await store.get('previews/link.jpg')).toBeNull();
    expect(await store.exists('previews/link.jpg')).toBe(false);
    expect(await store.get('escape/secret.txt')).toBeNull();
    expect(await store.exists('escape/secret.txt')).toBe(false);
    // Writing through the symlinked folder would land outside: refused, nothing created there.
    await expect(store.put('escape/written.jpg', Buffer.from('x'), 'image/jpeg')).rejects.toBeInstanceOf(BadRequestError);
    await expect(store.put('escape/deeper/written.jpg', Buffer.from('x'), 'image/jpeg')).rejects.toBeInstanceOf(BadRequestError);
    expect(fs.existsSync(path.join(tmp.dir, 'written.jpg'))).toBe(false);
    expect(fs.existsSync(path.join(tmp.dir, 'deeper'))).toBe(false);
    // Deleting through it is a no-op; deleting the in-store link removes the link, never its target.
    await store.delete('escape/secret.txt');
    await store.delete('previews/link.jpg');
    expect(fs.existsSync(path.join(root, 'previews', 'link.jpg'))).toBe(false);
    expect(fs.readFileSync(secret, 'utf8')).toBe('outside the store');
    expect(await store.resolveSafe('escape/secret.txt')).toBeNull();
  });

  it('reads no byte outside the root (every file opened is inside it)', async () => {
    const opened: string[] = [];
    const real = fs.promises.open;
    const spy = vi.spyOn(fs.promises, 'open').mockImplementation(async (file, ...rest) => {
      opened.push(path.resolve(String(file)));
      return real(file, ...(rest as [string?, number?]));
    });
    try {
      fs.mkdirSync(path.join(root, 'ops'), { recursive: true });
      fs.symlinkSync(path.join(tmp.dir), path.join(root, 'ops', 'up'));
      await store.put('ops/inside.jpg', Buffer.from('in'), 'image/jpeg');
      (await store.get('ops/inside.jpg'))!.stream.destroy();
      for (const key of ['../secret.txt', '%2e%2e/secret.txt', 'ops/up/secret.txt', 'ops/../../secret.txt', '/etc/passwd']) {
        await store.get(key).catch(() => null);
        await store.exists(key).catch(() => false);
      }
    } finally {
      spy.mockRestore();
    }
    const realRoot = fs.realpathSync(root);
    expect(opened.every((file) => file.startsWith(realRoot + path.sep) || file.startsWith(root + path.sep))).toBe(true);
    expect(opened.some((file) => file.endsWith('inside.jpg'))).toBe(true); // the spy sees the store's opens
    expect(opened.some((file) => file.includes('secret'))).toBe(false);
  });

  it('lists stored files under a prefix, optionally only older ones, skipping temporary files and symlinks', async () => {
    const listRoot = path.join(tmp.dir, 'list');
    const listed = createFsMediaStore({ root: listRoot });
    await listed.put('previews/2026/10/a_annotated.jpg', Buffer.from('a'), 'image/jpeg');
    await listed.put('previews/2026/11/b_annotated.jpg', Buffer.from('bb'), 'image/jpeg');
    await listed.put('operations/2026/11/c.jpg', Buffer.from('ccc'), 'image/jpeg');
    fs.writeFileSync(path.join(listRoot, 'previews/2026/11/.b_annotated.jpg.0123.tmp'), 'half');
    fs.symlinkSync(secret, path.join(listRoot, 'previews/2026/11/evil.jpg'));
    const old = new Date('2020-01-01T00:00:00Z');
    fs.utimesSync(path.join(listRoot, 'previews/2026/10/a_annotated.jpg'), old, old);

    const collect = async (prefix: string, olderThan?: Date) => {
      const keys: string[] = [];
      for await (const entry of listed.list(prefix, olderThan)) keys.push(entry.key);
      return keys.sort();
    };
    expect(await collect('previews/')).toEqual(['previews/2026/10/a_annotated.jpg', 'previews/2026/11/b_annotated.jpg']);
    expect(await collect('previews/2026/1')).toEqual(['previews/2026/10/a_annotated.jpg', 'previews/2026/11/b_annotated.jpg']);
    expect(await collect('')).toHaveLength(3);
    expect(await collect('previews/', new Date('2021-01-01T00:00:00Z'))).toEqual(['previews/2026/10/a_annotated.jpg']);
    expect(await collect('nothing/here/')).toEqual([]);
    await expect(collect('../')).rejects.toBeInstanceOf(BadRequestError);
  });

  it('leaves the old file whole when a write fails part-way, and no temporary file behind', async () => {
    const key = 'operations/2026/11/crash.jpg';
    await store.put(key, Buffer.from('old complete file'), 'image/jpeg');
    const spy = vi.spyOn(fs.promises, 'rename').mockRejectedValueOnce(Object.assign(new Error('disk gone'), { code: 'EIO' }));
    try {
      await expect(store.put(key, Buffer.alloc(4096, 7), 'image/jpeg')).rejects.toThrow('disk gone');
    } finally {
      spy.mockRestore();
    }
    const file = await store.get(key);
    expect((await readAll(file!.stream)).toString()).toBe('old complete file');
    expect(fs.readdirSync(path.join(root, 'operations/2026/11')).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('refuses a key naming a temporary file or a folder', async () => {
    await expect(store.get('.hidden.jpg')).rejects.toBeInstanceOf(BadRequestError);
    await store.put('folders/inner/x.jpg', Buffer.from('x'), 'image/jpeg');
    expect(await store.get('folders/inner')).toBeNull();
  });

  it('validates keys it generated', () => {
    expect(validateMediaKey(newMediaKey('preview', 'a b/c.jpg'))).toMatch(/_a_b_c\.jpg$/);
  });
});
