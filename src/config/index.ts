/**
 * Configuration from the environment, validated once at start. Every problem is
 * reported together; the result is frozen and passed down (nothing else reads
 * process.env).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Type, type Static, type TSchema } from 'typebox';
import { Value } from 'typebox/value';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The documented environment variables (README "Configuration"). */
const EnvSchema = Type.Object({
  PORT: Type.Integer({ default: 8000, minimum: 0, maximum: 65535 }),
  HOST: Type.String({ default: '0.0.0.0', minLength: 1 }),
  DATA_DIR: Type.String({ default: './data', minLength: 1 }),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  MEDIA_DIR: Type.Optional(Type.String({ minLength: 1 })),
  MODEL_PATH: Type.String({ default: 'models/toolcontrol-yolo.onnx', minLength: 1 }),
  /** Class names for a model without metadata: comma-separated, in class-index order. */
  MODEL_NAMES: Type.Optional(Type.String({ minLength: 1 })),
  /** Input size for a model without metadata. */
  MODEL_IMGSZ: Type.Optional(Type.Integer({ minimum: 32, maximum: 4096 })),
  JWT_SECRET: Type.Optional(Type.String({ minLength: 32 })),
  ADMIN_EMPLOYEE_NUMBER: Type.String({ default: 'admin', minLength: 1 }),
  ADMIN_PASSWORD: Type.Optional(Type.String({ minLength: 8 })),
  LOG_LEVEL: Type.Union(LOG_LEVELS.map((l) => Type.Literal(l)), { default: 'info' }),
  /** Comma-separated allowed origins; `*` for any; empty disables CORS. */
  CORS_ORIGINS: Type.String({ default: '' }),
  /** Behind a reverse proxy: trust its X-Forwarded-For for client addresses (rate limits, logs). */
  TRUST_PROXY: Type.Boolean({ default: false }),
  /** Default detection confidence when a request gives none (seed: 0.5). */
  DEFAULT_CONFIDENCE: Type.Number({ default: 0.5, exclusiveMinimum: 0, maximum: 1 }),
  /** Detections between this floor and their threshold are uncertain (manual check). */
  REVIEW_FLOOR: Type.Number({ default: 0.25, exclusiveMinimum: 0, maximum: 1 }),
  /** Kit match percentage needed for `success` (seed: 95). */
  MATCH_THRESHOLD: Type.Number({ default: 95, minimum: 0, maximum: 100 }),
  NMS_IOU: Type.Number({ default: 0.7, exclusiveMinimum: 0, maximum: 1 }),
  /** Unset: the model's `agnostic_nms` metadata decides (Ultralytics exports have none: per class). */
  NMS_AGNOSTIC: Type.Optional(Type.Boolean()),
  MAX_UPLOAD_BYTES: Type.Integer({ default: 25 * 1024 * 1024, minimum: 1024 }),
  MAX_IMAGE_PIXELS: Type.Integer({ default: 40_000_000, minimum: 1 }),
  INFERENCE_THREADS: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
  INFERENCE_SESSIONS: Type.Integer({ default: 1, minimum: 1, maximum: 64 }),
  INFERENCE_QUEUE: Type.Integer({ default: 16, minimum: 0 }),
  /** onnxruntime's threads spin between runs. Unset: yes in the API process (latency), no in `npm run worker` (throughput). */
  INFERENCE_SPIN: Type.Optional(Type.Boolean()),
  ACCESS_TOKEN_TTL: Type.Integer({ default: 900, minimum: 30 }),
  REFRESH_TOKEN_TTL: Type.Integer({ default: 14 * 24 * 3600, minimum: 60 }),
  /** Bearer token for GET /metrics; unset = loopback clients only. */
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: 16 })),
  /** KServe v2 / Triton base URLs, comma-separated; set = remote inference instead of in-process. */
  INFERENCE_URL: Type.Optional(Type.String({ pattern: '^https?://[^,\\s]+(\\s*,\\s*https?://[^,\\s]+)*$' })),
  INFERENCE_TIMEOUT_MS: Type.Integer({ default: 10_000, minimum: 100 }),
  INFERENCE_MODEL_NAME: Type.String({ default: 'toolcontrol-yolo', pattern: '^[A-Za-z0-9_.-]+$' }),
  /** /predict/batch and /predict/zip answer synchronously up to this many images; more → 413 pointing to /api/v1/jobs. */
  SYNC_BATCH_LIMIT: Type.Integer({ default: 20, minimum: 1, maximum: 1000 }),
  /** Largest ZIP archive (or sum of images) accepted by /predict/zip and /api/v1/jobs. */
  MAX_ARCHIVE_BYTES: Type.Integer({ default: 512 * 1024 * 1024, minimum: 1024 }),
  ZIP_MAX_ENTRIES: Type.Integer({ default: 1000, minimum: 1 }),
  ZIP_MAX_ENTRY_BYTES: Type.Integer({ default: 25 * 1024 * 1024, minimum: 1024 }),
  ZIP_MAX_TOTAL_BYTES: Type.Integer({ default: 2 * 1024 * 1024 * 1024, minimum: 1024 }),
  /** Uncompressed/compressed size above which an entry is treated as a zip bomb. */
  ZIP_MAX_RATIO: Type.Number({ default: 100, minimum: 1 }),
  /** Images recognised at once by each worker process (or by the API process without Redis). */
  JOB_CONCURRENCY: Type.Integer({ default: 2, minimum: 1, maximum: 64 }),
  /** A job item whose worker stopped answering for this long is run again by another worker. */
  JOB_STALL_MS: Type.Integer({ default: 30_000, minimum: 1_000 }),
  /** Seconds a cached detection result lives (keyed by image, model and thresholds); 0 disables the cache. */
  RESULT_CACHE_TTL: Type.Integer({ default: 24 * 3600, minimum: 0 }),
  /** Preview images and their results (/predict/*, jobs) are deleted after this many hours. */
  PREVIEW_RETENTION_HOURS: Type.Number({ default: 72, exclusiveMinimum: 0 }),
  RETENTION_INTERVAL_MINUTES: Type.Number({ default: 60, exclusiveMinimum: 0 }),
  /** A kit held longer than this many hours is overdue (at most ten years, so the date stays representable). */
  KIT_OVERDUE_HOURS: Type.Number({ default: 12, exclusiveMinimum: 0, maximum: 87_600 }),
  /**
   * `token` (default): /predict/, /predict/batch and /predict/zip need an access token.
   * `none`: they also answer without one (a token sent is still checked), rate-limited per client address.
   */
  PREVIEW_AUTH: Type.Union([Type.Literal('token'), Type.Literal('none')], { default: 'token' }),
  /** With PREVIEW_AUTH=none: preview requests without a token one client address may make per minute (429 beyond). */
  PREVIEW_RATE_LIMIT: Type.Integer({ default: 30, minimum: 1, maximum: 100_000 }),
  /** Seconds a signed image URL (`/media/<key>?exp=…&sig=…`) in a response stays valid. */
  MEDIA_URL_TTL: Type.Integer({ default: 3600, minimum: 1, maximum: 7 * 24 * 3600 }),
  /** The built web app (index.html and its assets); unset = web/build in the project folder. */
  WEB_DIR: Type.Optional(Type.String({ minLength: 1 })),
  // The seed's variables, accepted instead of DATABASE_URL / REDIS_URL.
  DB_HOST: Type.Optional(Type.String({ minLength: 1 })),
  DB_PORT: Type.Integer({ default: 5432 }),
  DB_NAME: Type.Optional(Type.String({ minLength: 1 })),
  DB_USER: Type.Optional(Type.String({ minLength: 1 })),
  DB_PASSWORD: Type.Optional(Type.String()),
  REDIS_HOST: Type.Optional(Type.String({ minLength: 1 })),
  REDIS_PORT: Type.Integer({ default: 6379 }),
  REDIS_PASSWORD: Type.Optional(Type.String()),
  REDIS_DB: Type.Integer({ default: 0, minimum: 0 }),
  /** `npm run worker` serves GET /metrics on this port; unset = no listener. */
  WORKER_METRICS_PORT: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
});

type Env = Static<typeof EnvSchema>;

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** Unset: embedded PGlite under dataDir. */
  databaseUrl: string | null;
  /** Unset: in-process cache, queue and token store. */
  redisUrl: string | null;
  mediaDir: string;
  model: {
    path: string;
    names: string[] | null;
    imgsz: number | null;
    sessions: number;
    threads: number | null;
    /** null: onnxruntime's default (spin); the worker entry turns it off unless it is set. */
    spin: boolean | null;
    maxQueue: number;
  };
  /** Remote inference (KServe v2 / Triton); urls empty = in-process onnxruntime. */
  inference: { urls: string[]; timeoutMs: number; modelName: string };
  /** Null: /metrics answers loopback clients only. */
  metricsToken: string | null;
  /** Null: a secret is generated once and kept in dataDir (single-node setups only). */
  jwtSecret: string | null;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  admin: { employeeNumber: string; password: string | null };
  logLevel: (typeof LOG_LEVELS)[number];
  corsOrigins: string[] | '*' | null;
  trustProxy: boolean;
  recognition: {
    defaultConfidence: number;
    reviewFloor: number;
    matchThreshold: number;
    nmsIou: number;
    /** null: the model's recommendation (agnosticNmsFor). */
    nmsAgnostic: boolean | null;
    maxImagePixels: number;
  };
  maxUploadBytes: number;
  /** Batches, ZIP archives and background jobs. */
  jobs: {
    syncBatchLimit: number;
    maxArchiveBytes: number;
    concurrency: number;
    stallMs: number;
    zip: { maxEntries: number; maxEntryBytes: number; maxTotalBytes: number; maxRatio: number };
  };
  /** 0: detection results are not cached. */
  resultCacheTtlSeconds: number;
  retention: { previewHours: number; intervalMinutes: number };
  /** Hours after which a held kit is overdue. */
  kitOverdueHours: number;
  /** Previews (/predict/*): `none` = no token needed, anonymous requests limited per client address and minute. */
  preview: { auth: 'token' | 'none'; rateLimitPerMinute: number };
  /** Lifetime of the signed image URLs in responses. */
  mediaUrlTtlSeconds: number;
  /** Folder of the built web app; served when it holds an index.html. */
  webDir: string;
  /** The worker's GET /metrics listener; null = none. */
  workerMetricsPort: number | null;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function seedDatabaseUrl(env: Env): string | null {
  if (!env.DB_HOST) return null;
  const user = encodeURIComponent(env.DB_USER ?? 'postgres');
  const password = env.DB_PASSWORD ? `:${encodeURIComponent(env.DB_PASSWORD)}` : '';
  return `postgres://${user}${password}@${env.DB_HOST}:${env.DB_PORT}/${encodeURIComponent(env.DB_NAME ?? 'toolcontrol')}`;
}

function seedRedisUrl(env: Env): string | null {
  if (!env.REDIS_HOST) return null;
  const auth = env.REDIS_PASSWORD ? `:${encodeURIComponent(env.REDIS_PASSWORD)}@` : '';
  return `redis://${auth}${env.REDIS_HOST}:${env.REDIS_PORT}/${env.REDIS_DB}`;
}

function parseCors(value: string): Config['corsOrigins'] {
  const trimmed = value.trim();
  if (trimmed === '') return null;
  if (trimmed === '*') return '*';
  return trimmed.split(',').map((o) => o.trim()).filter(Boolean);
}

/** Names whose values are never printed, not even in a configuration error. */
const SECRET_NAME = /_(SECRET|PASSWORD|TOKEN|KEY)$/;
/** Names holding URLs, printed with their credentials hidden. */
const URL_NAME = /_URLS?$/;

/** A value as a configuration error may show it: secrets hidden, URL passwords replaced by ***. */
function printable(name: string, value: string): string {
  if (SECRET_NAME.test(name)) return 'value not shown';
  return `got ${JSON.stringify(URL_NAME.test(name) ? redactCredentials(value) : value)}`;
}

/**
 * Hides the password of every URL in a value (one or comma-separated), even an invalid one:
 * `scheme://user:pass@host` → `scheme://user:***@host` (the last @ before the next URL ends the
 * password, so an unencoded @ in it is hidden too), `user:pass@host` without a scheme →
 * `***@host`, and `?password=` style parameters.
 */
function redactCredentials(value: string): string {
  if (!value.includes('://')) return value.includes('@') ? `***${value.slice(value.lastIndexOf('@'))}` : value;
  return value
    .replace(/([a-z][a-z0-9+.-]*:\/\/[^:@/\s,]*):(?:(?![a-z][a-z0-9+.-]*:\/\/).)*@/gi, '$1:***@')
    .replace(/([?&][^=&#]*(?:password|pass|pwd|secret|token|key)[^=&#]*=)[^&#\s,]*/gi, '$1***');
}

/** One line per invalid variable; the allowed values of a choice (a union of literals) are listed. */
function propertyProblem(name: string, schema: TSchema, value: unknown, raw: string | undefined): string | null {
  if (value === undefined) return null; // optional and unset; required ones all have defaults
  const errors = Value.Errors(schema, value);
  if (errors.length === 0) return null;
  const choices = literalChoices(schema);
  const message = choices
    ? `must be one of: ${choices.join(', ')}`
    : [...new Set(errors.filter((e) => e.keyword !== 'anyOf').map((e) => e.message))].join('; ') || errors[0]!.message;
  return `${name}: ${message} (${printable(name, raw ?? String(value))})`;
}

function literalChoices(schema: TSchema): string[] | null {
  const variants = (schema as { anyOf?: unknown }).anyOf;
  if (!Array.isArray(variants) || variants.length === 0) return null;
  if (!variants.every((v) => v && typeof v === 'object' && 'const' in v)) return null;
  return variants.map((v) => String((v as { const: unknown }).const));
}

/**
 * The seed's DB_* / REDIS_* settings mean nothing without their host: rather than fall back to
 * PGlite or in-process Redis behind the operator's back, say so (a URL makes them moot).
 */
const SEED_GROUPS = [
  { host: 'DB_HOST', url: 'DATABASE_URL', server: 'PostgreSQL', parts: ['DB_PORT', 'DB_NAME', 'DB_USER', 'DB_PASSWORD'] },
  { host: 'REDIS_HOST', url: 'REDIS_URL', server: 'Redis', parts: ['REDIS_PORT', 'REDIS_PASSWORD', 'REDIS_DB'] },
] as const;

function orphanedSeedProblems(raw: Record<string, string>): string[] {
  const problems: string[] = [];
  for (const group of SEED_GROUPS) {
    if (raw[group.host] !== undefined || raw[group.url] !== undefined) continue;
    const set = group.parts.filter((key) => raw[key] !== undefined);
    if (set.length === 0) continue;
    const names = set.length === 1 ? set[0] : `${set.slice(0, -1).join(', ')} and ${set.at(-1)}`;
    problems.push(
      `${names} ${set.length === 1 ? 'is' : 'are'} set but ${group.host} is not: set ${group.host} (or ${group.url}) to use ${group.server}`,
    );
  }
  return problems;
}

/** Parse and validate; throws ConfigError listing every problem. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Readonly<Config> {
  // Only documented keys, and empty strings count as unset (`FOO=` in a .env file).
  const raw: Record<string, string> = {};
  for (const key of Object.keys(EnvSchema.properties)) {
    const value = source[key];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  // Convert and Default work in place: `raw` keeps what was given, for the checks below.
  const env = Value.Default(EnvSchema, Value.Convert(EnvSchema, { ...raw })) as Env;
  // Checked variable by variable: one line each, and never cut short by TypeBox's maxErrors.
  const problems = Object.entries(EnvSchema.properties).flatMap(([key, schema]: [string, TSchema]) => {
    const problem = propertyProblem(key, schema, (env as Record<string, unknown>)[key], raw[key]);
    return problem === null ? [] : [problem];
  });
  problems.push(...orphanedSeedProblems(raw));
  if (
    typeof env.REVIEW_FLOOR === 'number' &&
    typeof env.DEFAULT_CONFIDENCE === 'number' &&
    env.REVIEW_FLOOR > env.DEFAULT_CONFIDENCE
  ) {
    problems.push('REVIEW_FLOOR: must not be above DEFAULT_CONFIDENCE');
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const dataDir = path.resolve(cwd, env.DATA_DIR);
  const modelPath = path.isAbsolute(env.MODEL_PATH) ? env.MODEL_PATH : path.resolve(PROJECT_ROOT, env.MODEL_PATH);
  const config: Config = {
    port: env.PORT,
    host: env.HOST,
    dataDir,
    databaseUrl: env.DATABASE_URL ?? seedDatabaseUrl(env),
    redisUrl: env.REDIS_URL ?? seedRedisUrl(env),
    mediaDir: path.resolve(cwd, env.MEDIA_DIR ?? path.join(dataDir, 'media')),
    model: {
      path: modelPath,
      names: env.MODEL_NAMES ? env.MODEL_NAMES.split(',').map((n) => n.trim()) : null,
      imgsz: env.MODEL_IMGSZ ?? null,
      sessions: env.INFERENCE_SESSIONS,
      threads: env.INFERENCE_THREADS ?? null,
      spin: env.INFERENCE_SPIN ?? null,
      maxQueue: env.INFERENCE_QUEUE,
    },
    inference: {
      urls: env.INFERENCE_URL ? env.INFERENCE_URL.split(',').map((u) => u.trim().replace(/\/+$/, '')) : [],
      timeoutMs: env.INFERENCE_TIMEOUT_MS,
      modelName: env.INFERENCE_MODEL_NAME,
    },
    metricsToken: env.METRICS_TOKEN ?? null,
    jwtSecret: env.JWT_SECRET ?? null,
    accessTokenTtlSeconds: env.ACCESS_TOKEN_TTL,
    refreshTokenTtlSeconds: env.REFRESH_TOKEN_TTL,
    admin: { employeeNumber: env.ADMIN_EMPLOYEE_NUMBER, password: env.ADMIN_PASSWORD ?? null },
    logLevel: env.LOG_LEVEL,
    corsOrigins: parseCors(env.CORS_ORIGINS),
    trustProxy: env.TRUST_PROXY,
    recognition: {
      defaultConfidence: env.DEFAULT_CONFIDENCE,
      reviewFloor: env.REVIEW_FLOOR,
      matchThreshold: env.MATCH_THRESHOLD,
      nmsIou: env.NMS_IOU,
      nmsAgnostic: env.NMS_AGNOSTIC ?? null,
      maxImagePixels: env.MAX_IMAGE_PIXELS,
    },
    maxUploadBytes: env.MAX_UPLOAD_BYTES,
    jobs: {
      syncBatchLimit: env.SYNC_BATCH_LIMIT,
      maxArchiveBytes: env.MAX_ARCHIVE_BYTES,
      concurrency: env.JOB_CONCURRENCY,
      stallMs: env.JOB_STALL_MS,
      zip: {
        maxEntries: env.ZIP_MAX_ENTRIES,
        maxEntryBytes: env.ZIP_MAX_ENTRY_BYTES,
        maxTotalBytes: env.ZIP_MAX_TOTAL_BYTES,
        maxRatio: env.ZIP_MAX_RATIO,
      },
    },
    resultCacheTtlSeconds: env.RESULT_CACHE_TTL,
    retention: { previewHours: env.PREVIEW_RETENTION_HOURS, intervalMinutes: env.RETENTION_INTERVAL_MINUTES },
    kitOverdueHours: env.KIT_OVERDUE_HOURS,
    preview: { auth: env.PREVIEW_AUTH, rateLimitPerMinute: env.PREVIEW_RATE_LIMIT },
    mediaUrlTtlSeconds: env.MEDIA_URL_TTL,
    webDir: path.resolve(PROJECT_ROOT, env.WEB_DIR ?? 'web/build'),
    workerMetricsPort: env.WORKER_METRICS_PORT ?? null,
  };
  return deepFreeze(config);
}

function deepFreeze<T extends object>(value: T): Readonly<T> {
  for (const child of Object.values(value)) {
    if (child && typeof child === 'object') deepFreeze(child as object);
  }
  return Object.freeze(value);
}

/** For entry points: the config, or every problem printed on stderr and the process ended. */
export function loadConfigOrExit(exitCode = 1): Readonly<Config> {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(exitCode);
    }
    throw err;
  }
}
