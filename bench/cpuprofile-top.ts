/**
 * Summarises V8 CPU profiles (`node --cpu-prof` writes one `.cpuprofile` per thread: the main
 * thread and the ONNX session worker): self time per function and per source file, top first.
 * Native onnxruntime time shows up under the JS frame that called it (`run` of the session
 * worker); `(garbage collector)`, `(program)` and `(idle)` are V8's own buckets.
 *
 *   node --import tsx bench/cpuprofile-top.ts DIR_OR_FILES... [--top 25]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
const top = Number(values.top);
const root = resolve(import.meta.dirname, '..');
const files = positionals.flatMap((p) =>
  statSync(p).isDirectory()
    ? readdirSync(p)
        .filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => join(p, f))
    : [p],
);
if (files.length === 0) throw new Error('no .cpuprofile files given (run with node --cpu-prof --cpu-prof-dir DIR)');

const where = (url: string) => {
  if (!url) return '';
  const path = url.replace(/^file:\/\//, '');
  return path.startsWith(root) ? relative(root, path) : path.includes('node_modules') ? path.slice(path.lastIndexOf('node_modules')) : path;
};

for (const file of files.sort()) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const totalUs = profile.endTime - profile.startTime;
  const idleUs = [...selfUs].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)').reduce((s, [, us]) => s + us, 0);
  const perFunction = new Map<string, number>();
  const perFile = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === '(idle)') continue;
    const key = `${functionName || '(anonymous)'}  ${where(url)}${url ? `:${lineNumber + 1}` : ''}`;
    perFunction.set(key, (perFunction.get(key) ?? 0) + us);
    const f = where(url) || functionName;
    perFile.set(f, (perFile.get(f) ?? 0) + us);
  }
  const busyUs = totalUs - idleUs;
  console.log(
    `\n${basename(file)}: ${(totalUs / 1e6).toFixed(1)} s profiled, ${(busyUs / 1e6).toFixed(1)} s busy (${((100 * busyUs) / totalUs).toFixed(0)} %)`,
  );
  const show = (title: string, map: Map<string, number>, n: number) => {
    console.log(`  ${title}`);
    for (const [k, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n))
      console.log(`  ${(us / 1e6).toFixed(2).padStart(8)} s ${((100 * us) / busyUs).toFixed(1).padStart(5)} %  ${k}`);
  };
  show('self time by function (share of busy time)', perFunction, top);
  show('self time by file', perFile, Math.ceil(top / 2));
}
