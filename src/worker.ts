/**
 * `npm run worker`: loadConfig() → createDeps(config) → job workers. Runs any number of
 * times, on any machine sharing PostgreSQL, Redis and the media store with the API.
 * SIGTERM/SIGINT: stop taking tasks, let the running ones finish, close, exit 0.
 * Without a model it exits 1 at once rather than fail every photo it would take.
 * WORKER_METRICS_PORT set: GET /metrics (as the API's) on that port.
 */
import { loadConfigOrExit } from './config/index.js';
import { createDeps } from './deps.js';
import { startMetricsServer } from './metrics/server.js';

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
  if (!deps.detector) {
    // Taking tasks would fail every photo it picks up, photos a worker with a model would
    // recognise: exit instead, so the supervisor restarts it and sees the failure.
    log.fatal({ modelPath: config.model.path }, 'worker not started: no model loaded (see "model could not be loaded" above); it takes no job photos without one');
    await deps.close().catch(() => undefined);
    process.exit(1);
  }
  // Before taking tasks: a port that cannot be bound ends the worker before it holds any.
  const metricsServer =
    config.workerMetricsPort === null
      ? null
      : await startMetricsServer({ metrics: deps.metrics, token: config.metricsToken, port: config.workerMetricsPort, host: config.host, logger: log }).catch(
          async (err: unknown) => {
            await deps.close().catch(() => undefined);
            throw new Error(`WORKER_METRICS_PORT ${config.workerMetricsPort}: ${(err as Error).message}`);
          },
        );
  await deps.jobs.startProcessing();
  log.info(
    {
      concurrency: config.jobs.concurrency,
      queue: deps.jobs.queue.kind,
      model: deps.detector.info.sha256.slice(0, 12),
      metricsPort: metricsServer?.port ?? null,
    },
    'worker ready',
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    // Running tasks finish; one that hangs past its lock is recovered by another worker anyway.
    // docker-compose's stop_grace_period for the worker is set above this.
    const force = setTimeout(() => process.exit(1), Math.max(15_000, config.jobs.stallMs));
    force.unref();
    await deps.close();
    // Last: scrapes during the drain still see the running tasks.
    await metricsServer?.close();
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
