/**
 * Deterministic randomness. Usable inside Temporal workflows (no Node APIs): seeds for every
 * diffusion replica are derived here from the plan seed, so a rerun gives the same plan.
 */

/** 32-bit FNV-1a of a string, for turning names into seed material. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** splitmix32-style finaliser: a well-mixed unsigned 32-bit value. */
function mix32(x: number): number {
  x = (x + 0x9e3779b9) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * Derives a child seed (unsigned 32-bit) from a parent seed and a path of labels,
 * e.g. `deriveSeed(planSeed, 'drug', step, beam, 'cisplatin', replica)`.
 */
export function deriveSeed(seed: number, ...path: ReadonlyArray<string | number>): number {
  let h = mix32(seed >>> 0);
  for (const part of path) {
    const v = typeof part === 'number' ? part >>> 0 : hashString(part);
    h = mix32(h ^ v);
  }
  return h;
}

/** A small, fast, seedable PRNG (sfc32) with the distributions the world needs. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = mix32(seed);
    this.b = mix32(this.a ^ 0x6a09e667);
    this.c = mix32(this.b ^ 0xbb67ae85);
    this.d = 1;
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** Integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.uniform() * (hi - lo + 1));
  }

  bernoulli(p: number): boolean {
    return this.uniform() < p;
  }

  /** Standard normal by Box-Muller (one value per call; simple and deterministic). */
  normal(mean = 0, sd = 1): number {
    const u = 1 - this.uniform();
    const v = this.uniform();
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[Math.floor(this.uniform() * items.length)]!;
  }

  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.uniform() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }

  /** A child generator whose stream does not overlap this one's in practice. */
  fork(...path: ReadonlyArray<string | number>): Rng {
    return new Rng(deriveSeed(this.nextUint32(), ...path));
  }
}
