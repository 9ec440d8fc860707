/**
 * `npm run worker`: loadConfig() → createDeps(config) → job workers. Runs any number of
 * times, on any machine sharing PostgreSQL, Redis and the media store with the API.
 * SIGTERM/SIGINT: stop taking tasks, let the running ones finish, close, exit 0.
 */
import { loadConfigOrExit } from './config/index.js';
import { createDeps } from './deps.js';

async function main(): Promise<void> {
  const loaded = loadConfigOrExit();
  // A worker runs photos back to back, each decoded while another is inferred: onnxruntime's
  // spinning threads would take the cores the decoding needs (bench:jobs: 16.5 → 21.3 images/s).
  const config = { ...loaded, model: { ...loaded.model, spin: loaded.model.spin ?? false } };
  if (!config.redisUrl) {
    console.error('The worker needs REDIS_URL (or REDIS_HOST): without Redis the API process runs the jobs itself.');
    process.exit(1);
  }

  const deps = await createDeps(config);
  const log = deps.logger.child({ role: 'worker' });
  if (!deps.detector) log.warn('no model loaded: every job item will fail with model.unavailable');
  await deps.jobs.startProcessing();
  log.info({ concurrency: config.jobs.concurrency, queue: deps.jobs.queue.kind, model: deps.detector?.info.sha256.slice(0, 12) ?? null }, 'worker ready');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    // Running tasks finish; one that hangs past its lock is recovered by another worker anyway.
    const force = setTimeout(() => process.exit(1), Math.max(15_000, config.jobs.stallMs));
    force.unref();
    await deps.close();
    log.info('worker stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
