/**
 * `mewm synth`: writes a synthetic TACE cohort and/or prints world statistics.
 *
 *   mewm synth --patients N --seed S --out DIR [--size clinical|small] [--preview] [--stats]
 *   mewm synth --stats [--patients 200] [--seed S]      (statistics only, no images)
 */
import { MewmError } from '../core/errors';
import { writeCohort } from '../world/cohort';
import { isGridPreset, type GridPreset } from '../world/phantom';
import { formatStatisticsMarkdown, worldStatistics } from '../world/statistics';
import { runCommand, type Command } from './command';

const USAGE =
  'usage: mewm synth --patients N --seed S --out DIR [--size clinical|small] [--preview] [--stats]\n       mewm synth --stats [--patients N] [--seed S]';

export interface SynthArguments {
  readonly patients: number;
  readonly seed: number;
  readonly outDir?: string;
  readonly size: GridPreset;
  readonly preview: boolean;
  readonly stats: boolean;
}

function integerFlag(name: string, value: string | undefined, lo: number, hi: number): number {
  if (value === undefined || !/^\d+$/.test(value)) throw new MewmError('InvalidInput', `${name} needs an integer value`);
  const n = Number(value);
  if (n < lo || n > hi) throw new MewmError('InvalidInput', `${name} must be in ${lo}..${hi}, got ${value}`);
  return n;
}

export function parseSynthArguments(argv: readonly string[]): SynthArguments {
  let patients: number | undefined;
  let seed = 0;
  let outDir: string | undefined;
  let size: GridPreset = 'clinical';
  let preview = false;
  let stats = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const [name, inline] = flag.includes('=') ? [flag.slice(0, flag.indexOf('=')), flag.slice(flag.indexOf('=') + 1)] : [flag, undefined];
    const value = () => inline ?? argv[++i];
    switch (name) {
      case '--patients':
        patients = integerFlag('--patients', value(), 1, 100_000);
        break;
      case '--seed':
        seed = integerFlag('--seed', value(), 0, 0xffffffff);
        break;
      case '--out': {
        const dir = value();
        if (!dir || dir.startsWith('--')) throw new MewmError('InvalidInput', '--out needs a directory');
        outDir = dir;
        break;
      }
      case '--size': {
        const s = value() ?? '';
        if (!isGridPreset(s)) throw new MewmError('InvalidInput', `--size must be clinical or small, got "${s}"`);
        size = s;
        break;
      }
      case '--preview':
        preview = true;
        break;
      case '--stats':
        stats = true;
        break;
      default:
        throw new MewmError('InvalidInput', `unknown argument "${flag}"`);
    }
  }
  if (!outDir && !stats) throw new MewmError('InvalidInput', '--out DIR is required (or use --stats alone for statistics)');
  if (preview && !outDir) throw new MewmError('InvalidInput', '--preview needs --out DIR');
  return { patients: patients ?? (outDir ? 20 : 200), seed, size, preview, stats, ...(outDir ? { outDir } : {}) };
}

async function synth(args: SynthArguments): Promise<0> {
  if (args.outDir) {
    const started = Date.now();
    await writeCohort({
      seed: args.seed,
      patients: args.patients,
      gridPreset: args.size,
      outDir: args.outDir,
      preview: args.preview,
      onPatient: (p) => process.stderr.write(`${p.caseId} (${p.index}/${args.patients}) written\n`),
    });
    process.stderr.write(`mewm synth: ${args.patients} patients in ${((Date.now() - started) / 1000).toFixed(1)} s → ${args.outDir}\n`);
  }
  if (args.stats) process.stdout.write(formatStatisticsMarkdown(worldStatistics(args.seed, args.patients)));
  return 0;
}

export const synthCommand: Command<SynthArguments> = { name: 'synth', usage: USAGE, parse: parseSynthArguments, run: (args) => synth(args) };

export function runSynth(argv: readonly string[]): Promise<number> {
  return runCommand(synthCommand, argv);
}
