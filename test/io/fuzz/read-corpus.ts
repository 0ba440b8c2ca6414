/**
 * Child process of test/io/ingest-fuzz.test.ts: reads every input of a corpus the way ingest does
 * (reader with the default ingest limits, then the CT rules of src/io/ct-plausibility.ts) and
 * prints one JSON object: per input the outcome, message and time, plus the process's peak RSS
 * (before and after the corpus), so the parent can bound memory without its own heap in the way.
 * Usage: node --import tsx test/io/fuzz/read-corpus.ts <inputs.json>
 */
import { readFileSync } from 'node:fs';
import { isMewmError } from '../../../src/core/errors';
import { assertPlausibleCt } from '../../../src/io/ct-plausibility';
import { readDicomSeries } from '../../../src/io/dicom';
import { readNifti } from '../../../src/io/nifti';
import type { FuzzInput } from './corpus';

const perInputTimeoutMs = 20_000;
const inputs = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as FuzzInput[];
const maxRssMiB = () => process.resourceUsage().maxRSS / 1024;

async function readOne(input: FuzzInput): Promise<void> {
  const name = input.kind === 'nifti' ? 'case FUZZ CT' : 'case FUZZ CT series';
  const volume = input.kind === 'nifti' ? await readNifti(input.path, { name }) : await readDicomSeries(input.path, { name });
  assertPlausibleCt(volume, name);
}

const baselineMiB = maxRssMiB();
const results = [];
for (const input of inputs) {
  const started = performance.now();
  let outcome: { code: string; message: string; typed: boolean; details: string };
  try {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      readOne(input),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('TIMEOUT')), perInputTimeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    outcome = { code: 'ok', message: '', typed: true, details: '' };
  } catch (error) {
    const typed = isMewmError(error);
    outcome = {
      code: typed ? error.code : (error as Error).message === 'TIMEOUT' ? 'TIMEOUT' : 'untyped',
      message: error instanceof Error ? `${error.message}${error.cause instanceof Error ? ` | cause: ${error.cause.message}` : ''}` : String(error),
      typed,
      details: typed ? JSON.stringify(error.details) : '',
    };
  }
  results.push({ id: input.id, ...outcome, ms: Math.round(performance.now() - started), maxRssMiB: Math.round(maxRssMiB()) });
}
process.stdout.write(`${JSON.stringify({ baselineMiB: Math.round(baselineMiB), peakMiB: Math.round(maxRssMiB()), results })}\n`);
// A FIFO read that blocked a thread-pool thread would keep the process alive: exit explicitly.
process.exit(0);
