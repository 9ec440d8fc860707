/**
 * npm run synth -- --out DIR --count N --seed S [--kit full|random] [--without key1,key2]
 *                  [--missing N] [--width W --height H] [--val 0.1]
 *
 * --missing N (full kits): each scene lacks 0 to N more tools, chosen from its seed, so the
 * empty cut-outs of missing tools are in the data as they are in the service's photos.
 */
import { parseArgs } from 'node:util';
import { isToolClassKey, type ToolClassKey } from '../domain/tool-classes.js';
import { writeDataset } from './dataset.js';

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    count: { type: 'string', default: '100' },
    seed: { type: 'string', default: '1' },
    kit: { type: 'string', default: 'random' },
    without: { type: 'string' },
    missing: { type: 'string', default: '0' },
    width: { type: 'string' },
    height: { type: 'string' },
    val: { type: 'string', default: '0.1' },
    concurrency: { type: 'string', default: '4' },
  },
});

function fail(message: string): never {
  console.error(`synth: ${message}`);
  process.exit(2);
}

if (!values.out) fail('--out DIR is required');
if (values.kit !== 'full' && values.kit !== 'random') fail('--kit must be full or random');
const without = (values.without ?? '').split(',').filter(Boolean);
const unknown = without.filter((k) => !isToolClassKey(k));
if (unknown.length > 0) fail(`unknown tool keys in --without: ${unknown.join(', ')}`);
const count = Number(values.count);
const seed = Number(values.seed);
if (!Number.isInteger(count) || count < 1) fail('--count must be a positive integer');
if (!Number.isInteger(seed)) fail('--seed must be an integer');
const missing = Number(values.missing);
if (!Number.isInteger(missing) || missing < 0 || missing > 10) fail('--missing must be an integer from 0 to 10');
if (missing > 0 && values.kit !== 'full') fail('--missing applies to --kit full');

const started = performance.now();
const result = await writeDataset({
  out: values.out,
  count,
  seed,
  kit: values.kit,
  without: without as ToolClassKey[],
  missingUpTo: missing,
  ...(values.width ? { width: Number(values.width) } : {}),
  ...(values.height ? { height: Number(values.height) } : {}),
  valFraction: Number(values.val),
  concurrency: Number(values.concurrency),
  onProgress: (done, total) => {
    if (done % 100 === 0 || done === total) process.stderr.write(`\r${done}/${total} scenes`);
  },
});
const seconds = (performance.now() - started) / 1000;
console.error(`\nwrote ${result.train} train + ${result.val} val scenes to ${values.out} in ${seconds.toFixed(1)} s (${(count / seconds).toFixed(1)} scenes/s)`);
