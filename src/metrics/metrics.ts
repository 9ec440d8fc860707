/**
 * Prometheus instruments, one registry per process (per app in tests). Created in
 * createDeps and passed down; code that has something to count calls the named
 * instruments below rather than creating its own. Every name starts with `toolcontrol_`.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const METRIC_PREFIX = 'toolcontrol_';

/** Seconds. HTTP requests range from a health check to a multi-image upload. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Seconds. One CPU inference of a small YOLO takes tens to hundreds of ms. */
const INFERENCE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 2, 5, 10];
/** Seconds. Jobs (batches, ZIP archives) take seconds to minutes. */
const JOB_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

/** A queue-depth reader that takes longer is skipped for that scrape. */
const READER_TIMEOUT_MS = 1_000;

export type QueueDepthReader = () => Promise<Partial<Record<string, number>>> | Partial<Record<string, number>>;
export type GaugeReader = () => number | null | undefined;

export interface MetricsOptions {
  /** Process metrics (CPU, memory, event loop lag, GC). Default true. */
  defaultMetrics?: boolean;
}

export function createMetrics(options: MetricsOptions = {}) {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  const registers = [registry];

  const inFlightReaders = new Map<string, GaugeReader>();
  const queueDepthReaders = new Map<string, QueueDepthReader>();

  const metrics = {
    registry,

    /** Observed for every request; `route` is the route pattern (`/media/:filename`), never the raw URL. */
    httpRequestDuration: new Histogram({
      name: `${METRIC_PREFIX}http_request_duration_seconds`,
      help: 'HTTP request latency by route pattern, method and status code',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: HTTP_BUCKETS,
      registers,
    }),

    /**
     * Detector stages: decode (header, decode, letterbox), inference (the model run, or the
     * remote round trip), postprocess (NMS, scaling, masks), queue (waiting for a session or
     * for retries). Observed by the instrumented detector.
     */
    inferenceDuration: new Histogram({
      name: `${METRIC_PREFIX}inference_duration_seconds`,
      help: 'Detector time per image by backend (onnx, remote) and stage (decode, inference, postprocess, queue)',
      labelNames: ['backend', 'stage'] as const,
      buckets: INFERENCE_BUCKETS,
      registers,
    }),

    /** Detector calls that failed, by the error code (`inference.unavailable`, `image.corrupt`, `internal`…). */
    inferenceFailures: new Counter({
      name: `${METRIC_PREFIX}inference_failures_total`,
      help: 'Detector calls that failed, by backend and error code',
      labelNames: ['backend', 'code'] as const,
      registers,
    }),

    /** Each request to a remote inference server, by server URL and outcome (ok, error, timeout). */
    remoteInferenceRequests: new Counter({
      name: `${METRIC_PREFIX}remote_inference_requests_total`,
      help: 'Requests to remote inference servers by server and outcome',
      labelNames: ['server', 'outcome'] as const,
      registers,
    }),

    /** Recognition verdicts (previews and operations): success, discrepancy, manual_check. */
    recognitions: new Counter({
      name: `${METRIC_PREFIX}recognitions_total`,
      help: 'Recognitions by verdict',
      labelNames: ['status'] as const,
      registers,
    }),

    /** Recorded operations: call `metrics.operations.inc({ type: 'checkout', status: 'success' })` after the commit. */
    operations: new Counter({
      name: `${METRIC_PREFIX}operations_total`,
      help: 'Recorded operations by type (checkout, checkin) and status',
      labelNames: ['type', 'status'] as const,
      registers,
    }),

    cacheHits: new Counter({
      name: `${METRIC_PREFIX}cache_hits_total`,
      help: 'Cache reads that found a value, by key space (the key up to its first colon)',
      labelNames: ['keyspace'] as const,
      registers,
    }),
    cacheMisses: new Counter({
      name: `${METRIC_PREFIX}cache_misses_total`,
      help: 'Cache reads that found nothing (or Redis was unreachable), by key space',
      labelNames: ['keyspace'] as const,
      registers,
    }),

    /** `kind`: connection (unreachable, reset, timeout) or query. */
    dbErrors: new Counter({
      name: `${METRIC_PREFIX}db_errors_total`,
      help: 'Database errors by kind (connection, query)',
      labelNames: ['kind'] as const,
      registers,
    }),
    /** `kind`: connection (client error events) or command. */
    redisErrors: new Counter({
      name: `${METRIC_PREFIX}redis_errors_total`,
      help: 'Redis errors by kind (connection, command)',
      labelNames: ['kind'] as const,
      registers,
    }),

    /** Finished jobs: `metrics.jobs.inc({ queue: 'batch', outcome: 'completed' | 'failed' | 'retried' })`. */
    jobs: new Counter({
      name: `${METRIC_PREFIX}jobs_total`,
      help: 'Jobs finished by queue and outcome (completed, failed, retried)',
      labelNames: ['queue', 'outcome'] as const,
      registers,
    }),
    /** Processing time of a job, from start to finish: `metrics.jobDuration.observe({ queue }, seconds)`. */
    jobDuration: new Histogram({
      name: `${METRIC_PREFIX}job_duration_seconds`,
      help: 'Job processing time by queue',
      labelNames: ['queue'] as const,
      buckets: JOB_BUCKETS,
      registers,
    }),
    /** Time from enqueue to start: `metrics.jobWait.observe({ queue }, seconds)`. */
    jobWait: new Histogram({
      name: `${METRIC_PREFIX}job_wait_seconds`,
      help: 'Time jobs waited in the queue before processing started',
      labelNames: ['queue'] as const,
      buckets: JOB_BUCKETS,
      registers,
    }),
    /** Filled at scrape time from the readers given to `registerQueueDepth`. */
    jobQueueDepth: new Gauge({
      name: `${METRIC_PREFIX}job_queue_depth`,
      help: 'Jobs in each queue by state (waiting, active, delayed, failed…), read at scrape time',
      labelNames: ['queue', 'state'] as const,
      registers,
      async collect() {
        const results = await Promise.all(
          [...queueDepthReaders].map(async ([queue, read]) => {
            try {
              // Bounded: a queue store that hangs (Redis down, BullMQ waiting to reconnect) must not hang the scrape.
              return { queue, counts: await withTimeout(Promise.resolve(read()), READER_TIMEOUT_MS) };
            } catch {
              // A queue that cannot be read reports nothing rather than failing the scrape.
              return { queue, counts: {} };
            }
          }),
        );
        this.reset();
        for (const { queue, counts } of results) {
          for (const [state, value] of Object.entries(counts)) {
            if (typeof value === 'number') this.set({ queue, state }, value);
          }
        }
      },
    }),

    /** Images admitted by the detector and not finished (running + waiting), read at scrape time. */
    inferenceInFlight: new Gauge({
      name: `${METRIC_PREFIX}inference_in_flight`,
      help: 'Images being recognised or waiting for the model, by backend',
      labelNames: ['backend'] as const,
      registers,
      collect() {
        this.reset();
        for (const [backend, read] of inFlightReaders) {
          const value = read();
          if (typeof value === 'number') this.set({ backend }, value);
        }
      },
    }),

    /** Register how to read a queue's depth (e.g. BullMQ `queue.getJobCounts()`); read at every scrape. */
    registerQueueDepth(queue: string, read: QueueDepthReader): void {
      queueDepthReaders.set(queue, read);
    },

    /** Register how to read the detector's in-flight count; read at every scrape. */
    registerInferenceInFlight(backend: string, read: GaugeReader): void {
      inFlightReaders.set(backend, read);
    },

    /** The exposition text and its content type. */
    async render(): Promise<{ contentType: string; body: string }> {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
