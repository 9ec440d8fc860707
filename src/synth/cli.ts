/**
 * npm run synth -- --out DIR --count N --seed S [--kit full|random] [--without key1,key2]
 *                  [--width W --height H] [--val 0.1]
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

const started = performance.now();
const result = await writeDataset({
  out: values.out,
  count,
  seed,
  kit: values.kit,
  without: without as ToolClassKey[],
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
