/**
 * The Docker deployment, checked without a Docker engine: docker-compose validates the
 * compose file with .env.example as .env (skipped when docker-compose is not installed),
 * .env.example is a configuration the service accepts, and the Dockerfile keeps its promises.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT, loadConfig } from '../../src/config/index.js';
import { tempDir } from '../helpers/config.js';

const run = promisify(execFile);
const read = (name: string) => fs.readFileSync(path.join(PROJECT_ROOT, name), 'utf8');

function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match) env[match[1]!] = match[2]!;
  }
  return env;
}

/** One service's lines of `docker-compose config` output. */
function serviceBlock(rendered: string, name: string): string {
  const start = rendered.indexOf(`\n  ${name}:\n`);
  if (start < 0) throw new Error(`no service ${name}`);
  const rest = rendered.slice(start + 1);
  const next = rest.slice(1).search(/\n {2}[a-z][\w-]*:\n|\n[a-z]/);
  return next < 0 ? rest : rest.slice(0, next + 1);
}

/** `stop_grace_period` in seconds (compose writes durations such as `25s` or `1m30s`); Docker's default 10 s when unset. */
function graceSeconds(service: string): number {
  const value = /stop_grace_period: '?([\dhms.]+)'?/.exec(service)?.[1];
  if (!value) return 10;
  let seconds = 0;
  for (const [, n, unit] of value.matchAll(/([\d.]+)([hms])/g)) seconds += Number(n) * { h: 3600, m: 60, s: 1 }[unit as 'h' | 'm' | 's'];
  return seconds;
}

const SEED_VARIABLES = ['DB_NAME', 'DB_USER', 'DB_PASSWORD', 'DB_HOST', 'DB_PORT', 'REDIS_HOST', 'REDIS_PORT', 'REDIS_PASSWORD', 'REDIS_DB'];

const hasCompose = await run('docker-compose', ['version']).then(
  () => true,
  () => false,
);

describe.skipIf(!hasCompose)('docker-compose config', () => {
  let tmp: { dir: string; cleanup: () => void };
  let rendered: string;
  beforeAll(async () => {
    tmp = tempDir('toolcontrol-compose-');
    fs.copyFileSync(path.join(PROJECT_ROOT, 'docker-compose.yml'), path.join(tmp.dir, 'docker-compose.yml'));
    fs.copyFileSync(path.join(PROJECT_ROOT, '.env.example'), path.join(tmp.dir, '.env'));
    const env = { ...process.env };
    // Variables of the test environment must not leak into the substitution.
    for (const key of Object.keys(parseEnvFile(read('.env.example')))) delete env[key];
    ({ stdout: rendered } = await run('docker-compose', ['-f', 'docker-compose.yml', 'config'], { cwd: tmp.dir, env }));
  });
  afterAll(() => tmp?.cleanup());

  it('accepts the compose file and defines api, worker, db and redis', async () => {
    const { stdout } = await run('docker-compose', ['-f', 'docker-compose.yml', 'config', '--services'], { cwd: tmp.dir });
    expect(stdout.split('\n').filter(Boolean).sort()).toEqual(['api', 'db', 'redis', 'worker']);
  });

  it('wires PostgreSQL 16 with a volume, Redis with the password from .env, healthchecks and start order', () => {
    const env = parseEnvFile(read('.env.example'));
    expect(rendered).toContain('image: postgres:16');
    expect(rendered).toContain('pgdata:/var/lib/postgresql/data');
    expect(rendered).toMatch(new RegExp(`- --requirepass\\n\\s+- ${env.REDIS_PASSWORD}`));
    expect(rendered).toMatch(/pg_isready/);
    expect(rendered).toMatch(/redis-cli/);
    expect(rendered.match(/condition: service_healthy/g)?.length).toBeGreaterThanOrEqual(4);
    expect(rendered).toMatch(/- src\/worker\.ts/);
    expect(rendered).toContain('MEDIA_DIR: /data/media');
  });

  it('gives the API and the worker more stop time than their own shutdown limits (Docker\'s default is 10 s)', () => {
    const config = loadConfig(parseEnvFile(read('.env.example')));
    // src/main.ts gives up after 15 s, src/worker.ts after max(15 s, JOB_STALL_MS).
    expect(graceSeconds(serviceBlock(rendered, 'api'))).toBeGreaterThan(15);
    expect(graceSeconds(serviceBlock(rendered, 'worker'))).toBeGreaterThan(Math.max(15_000, config.jobs.stallMs) / 1000);
  });

  it('serves the worker\'s metrics and checks its health on them', () => {
    const worker = serviceBlock(rendered, 'worker');
    const port = /WORKER_METRICS_PORT: '?(\d+)'?/.exec(worker)?.[1];
    expect(port).toBeDefined();
    expect(worker).toContain(`http://127.0.0.1:${port}/metrics`);
    expect(worker).toContain('METRICS_TOKEN');
    expect(worker).not.toContain('process.exit(0)"');
    // The rest of the shared environment is kept.
    expect(worker).toContain('MEDIA_DIR: /data/media');
    expect(worker).toContain('REDIS_HOST: redis');
  });

  it('refuses to start Redis without a password', async () => {
    const env = read('.env.example').replace(/^REDIS_PASSWORD=.*$/m, 'REDIS_PASSWORD=');
    fs.writeFileSync(path.join(tmp.dir, '.env'), env);
    try {
      const clean = { ...process.env };
      delete clean.REDIS_PASSWORD;
      await expect(run('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], { cwd: tmp.dir, env: clean })).rejects.toThrow(
        /REDIS_PASSWORD/,
      );
    } finally {
      fs.copyFileSync(path.join(PROJECT_ROOT, '.env.example'), path.join(tmp.dir, '.env'));
    }
  });
});

describe('.env.example', () => {
  const env = parseEnvFile(read('.env.example'));

  it('lists the seed variables, JWT_SECRET, ADMIN_PASSWORD and METRICS_TOKEN', () => {
    for (const key of [...SEED_VARIABLES, 'JWT_SECRET', 'ADMIN_PASSWORD', 'METRICS_TOKEN']) expect(env, key).toHaveProperty(key);
  });

  it('is a configuration the service accepts, pointing at PostgreSQL and Redis', () => {
    const config = loadConfig(env);
    expect(config.databaseUrl).toBe(`postgres://${env.DB_USER}:${env.DB_PASSWORD}@db:5432/${env.DB_NAME}`);
    expect(config.redisUrl).toBe(`redis://:${env.REDIS_PASSWORD}@redis:6379/0`);
    expect(config.jwtSecret).toBe(env.JWT_SECRET);
    expect(config.metricsToken).toBe(env.METRICS_TOKEN);
    expect(config.inference.urls).toEqual([]);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const instructions = dockerfile.split('\n').filter((l) => /^[A-Z]+\s/.test(l));

  it('is multi-stage on node:20-bookworm-slim and installs as CI does', () => {
    expect(dockerfile).toContain('ARG NODE_IMAGE=node:20-bookworm-slim');
    expect(instructions.filter((l) => l.startsWith('FROM ')).length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/ONNXRUNTIME_NODE_INSTALL=skip/);
    expect(dockerfile).toMatch(/RUN npm install /);
    expect(instructions.filter((l) => /\bnpm ci\b/.test(l))).toEqual([]);
  });

  it('runs as a non-root user, node directly, with a healthcheck on /base/health', () => {
    const users = instructions.filter((l) => l.startsWith('USER '));
    expect(users.at(-1)).toMatch(/^USER (?!root)\w+/);
    expect(dockerfile).toMatch(/HEALTHCHECK[\s\S]*\/base\/health/);
    expect(instructions.filter((l) => l.startsWith('CMD ')).at(-1)).toBe('CMD ["node", "--import", "tsx", "src/main.ts"]');
  });

  it('ships the source with its migrations, the font and the model, and nothing of the test or training tree', () => {
    expect(dockerfile).toMatch(/COPY .*src \.\/src/);
    expect(dockerfile).toMatch(/COPY .*assets\/fonts/);
    expect(dockerfile).toMatch(/COPY .*models/);
    expect(fs.existsSync(path.join(PROJECT_ROOT, 'src/db/migrations/meta/_journal.json'))).toBe(true);
    expect(fs.existsSync(path.join(PROJECT_ROOT, 'assets/fonts/DejaVuSans.ttf'))).toBe(true);
    const ignored = read('.dockerignore').split('\n');
    for (const entry of ['node_modules', '.git', '.env', 'test', 'ml', 'data']) expect(ignored).toContain(entry);
    expect(ignored).not.toContain('src');
    expect(ignored).not.toContain('models');
  });

  it('starts the service with the CMD it declares (node --import tsx)', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '-e', "import('./src/config/index.ts').then((m) => console.log(typeof m.loadConfig))"], {
      cwd: PROJECT_ROOT,
    });
    expect(stdout.trim()).toBe('function');
  });
});

describe('Makefile', () => {
  it('has the seed\'s compose-up and compose-down, logs, migrate and test', () => {
    const makefile = read('Makefile');
    for (const target of ['compose-up', 'compose-down', 'logs', 'migrate', 'test']) {
      expect(makefile).toMatch(new RegExp(`^${target}:`, 'm'));
    }
  });
});
