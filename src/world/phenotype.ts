/**
 * A synthetic patient: anatomy (geometry in RAS millimetres, grid-independent), liver tumours,
 * and the hidden tumour biology that decides how each TACE protocol works.
 *
 * Visible in the pre-treatment CT: body habitus, liver size (shrinks with poor liver reserve),
 * lesion count, size and shape, arterial enhancement (driven by vascularity), texture
 * heterogeneity, capsule. Hidden: the per-class drug sensitivities (only correlated with the
 * visible features), per-drug idiosyncrasy, Lipiodol uptake, arteriovenous shunt, liver reserve,
 * frailty and the resorption rate of dead tumour.
 *
 * Coordinates: RAS+ mm (x to the patient's right, y anterior, z superior), origin at the centre
 * of the imaged block.
 */
import { Rng } from '../core/random';
import { DRUGS, EMBOLICS, type DrugClass, type DrugId, type EmbolicId } from '../core/vocabulary';

export type Vec3 = [number, number, number];

export interface Ellipsoid {
  readonly center: Vec3;
  readonly radii: Vec3;
}

export interface Lobe {
  /** Unit direction. */
  readonly direction: Vec3;
  readonly amplitude: number;
  readonly frequency: number;
  readonly phase: number;
}

export interface Lesion {
  readonly center: Vec3;
  readonly radii: Vec3;
  /** Rotation about the z axis, radians. */
  readonly rotationZ: number;
  /** Surface lobulation: radius is scaled by 1 + Σ amplitude·cos(frequency·(u·direction) + phase). */
  readonly lobes: readonly Lobe[];
  /** Arterial-phase enhancement over liver parenchyma, HU (visible). */
  readonly enhancementHu: number;
  /** Capsule thickness, mm (0 = no capsule; visible as a hypodense rim). */
  readonly capsuleMm: number;
  /** Analytic volume, ml (ellipsoid volume; used by the survival model). */
  readonly volumeMl: number;
}

export interface VesselSegment {
  readonly from: Vec3;
  readonly to: Vec3;
  readonly radiusMm: number;
}

export interface Anatomy {
  /** Body cross-section semi-axes (x, y), mm. */
  readonly bodySemiAxes: readonly [number, number];
  readonly fatMm: number;
  readonly muscleMm: number;
  readonly liverLobes: readonly [Ellipsoid, Ellipsoid];
  readonly liverDeformation: number;
  readonly kidneys: readonly [Ellipsoid, Ellipsoid];
  readonly spleen: Ellipsoid;
  readonly stomach: Ellipsoid;
  readonly bowel: readonly Ellipsoid[];
  readonly vessels: readonly VesselSegment[];
  /** Arterial-phase parenchymal attenuation, HU. */
  readonly liverHu: number;
  readonly noiseSigmaHu: number;
  readonly textureSeed: number;
}

export interface TumourBiology {
  /** 0..1, drives arterial enhancement (visible) and particle-embolic effect (hidden). */
  readonly vascularity: number;
  /** 0..1, texture amplitude (visible). */
  readonly heterogeneity: number;
  /** Per drug class, 0..1: fraction of tumour a typical dose kills on its own (before potency). */
  readonly sensitivity: Readonly<Record<DrugClass, number>>;
  /** Per drug multiplier around 1. */
  readonly drugIdiosyncrasy: Readonly<Record<DrugId, number>>;
  /** Per embolic multiplier around 1 (vessel anatomy, catheter position). */
  readonly embolicIdiosyncrasy: Readonly<Record<EmbolicId, number>>;
  /** 0..1: how well the tumour retains Lipiodol. */
  readonly lipiodolUptake: number;
  readonly arteriovenousShunt: boolean;
  /** 0.35..1: functional liver reserve (1 = healthy); scales toxicity and baseline risk. */
  readonly liverReserve: number;
  /** Log-hazard offset of everything outside the model (age, comorbidity). */
  readonly frailty: number;
  /** 0..1: share of killed tumour volume resorbed by follow-up (shrinkage). */
  readonly resorption: number;
}

export interface Phenotype {
  readonly caseId: string;
  readonly seed: number;
  readonly anatomy: Anatomy;
  readonly lesions: readonly Lesion[];
  readonly biology: TumourBiology;
}

const logistic = (x: number) => 1 / (1 + Math.exp(-x));
const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/** Liver implicit function: < 1 inside (smooth union of two lobes, deformed). */
export function liverRho(anatomy: Anatomy, x: number, y: number, z: number, deformation: number): number {
  const [right, left] = anatomy.liverLobes;
  const r = ellipsoidRho(right, x, y, z);
  const l = ellipsoidRho(left, x, y, z);
  // smooth minimum keeps the lobes joined without a crease
  const k = 0.25;
  const h = clamp(0.5 + (0.5 * (l - r)) / k, 0, 1);
  const union = l * (1 - h) + r * h - k * h * (1 - h);
  return union * (1 + anatomy.liverDeformation * deformation);
}

export function ellipsoidRho(e: Ellipsoid, x: number, y: number, z: number): number {
  const dx = (x - e.center[0]) / e.radii[0];
  const dy = (y - e.center[1]) / e.radii[1];
  const dz = (z - e.center[2]) / e.radii[2];
  return Math.sqrt(dx * dx + dy * dy + dz * dz);
}

/** Lesion implicit function: normalised radius, < 1 inside. */
export function lesionRho(lesion: Lesion, x: number, y: number, z: number): number {
  const dx0 = x - lesion.center[0];
  const dy0 = y - lesion.center[1];
  const dz = z - lesion.center[2];
  const c = Math.cos(lesion.rotationZ);
  const s = Math.sin(lesion.rotationZ);
  const dx = c * dx0 + s * dy0;
  const dy = -s * dx0 + c * dy0;
  const ex = dx / lesion.radii[0];
  const ey = dy / lesion.radii[1];
  const ez = dz / lesion.radii[2];
  const rho = Math.sqrt(ex * ex + ey * ey + ez * ez);
  if (rho < 1e-9) return 0;
  let shape = 1;
  for (const lobe of lesion.lobes) {
    const u = (ex * lobe.direction[0] + ey * lobe.direction[1] + ez * lobe.direction[2]) / rho;
    shape += lobe.amplitude * Math.cos(lobe.frequency * u + lobe.phase);
  }
  return rho / shape;
}

function unitVector(rng: Rng): Vec3 {
  const v: Vec3 = [rng.normal(), rng.normal(), rng.normal()];
  const n = Math.hypot(...v) || 1;
  return [v[0] / n, v[1] / n, v[2] / n];
}

/**
 * Samples one patient. Deterministic in `seed`. `caseId` must be pseudonymous.
 */
export function samplePhenotype(caseId: string, seed: number): Phenotype {
  const rng = new Rng(seed);
  const liverReserve = rng.range(0.35, 1);
  const bodyA = rng.range(108, 122);
  const bodyB = rng.range(84, 98);
  const backY = -bodyB;
  const liverScale = 0.86 + 0.16 * liverReserve + rng.normal(0, 0.03);
  const liverZ = rng.range(0, 18);
  const right: Ellipsoid = {
    center: [rng.range(48, 56), rng.range(0, 10), liverZ],
    radii: [62 * liverScale, 70 * liverScale, 74 * liverScale],
  };
  const left: Ellipsoid = {
    center: [rng.range(-5, 10), rng.range(30, 40), liverZ + rng.range(12, 28)],
    radii: [rng.range(48, 60) * liverScale, 30 * liverScale, 42 * liverScale],
  };
  const side = (sign: 1 | -1, dz: number): Ellipsoid => ({
    center: [sign * rng.range(58, 66), backY + rng.range(40, 48), -45 + dz],
    radii: [rng.range(24, 30), rng.range(20, 24), rng.range(45, 55)],
  });
  const kidneys: [Ellipsoid, Ellipsoid] = [side(1, -8), side(-1, 0)];
  const spleen: Ellipsoid = {
    center: [-rng.range(66, 76), backY + rng.range(52, 62), rng.range(25, 40)],
    radii: [rng.range(24, 30), rng.range(40, 50), rng.range(45, 55)],
  };
  const stomach: Ellipsoid = {
    center: [-rng.range(30, 45), rng.range(15, 30), rng.range(40, 60)],
    radii: [rng.range(28, 38), rng.range(24, 32), rng.range(28, 38)],
  };
  const bowel: Ellipsoid[] = [];
  const bowelCount = rng.int(3, 5);
  for (let i = 0; i < bowelCount; i++) {
    bowel.push({ center: [rng.range(-60, 30), rng.range(10, 55), rng.range(-90, -10)], radii: [rng.range(10, 18), rng.range(10, 18), rng.range(25, 60)] });
  }
  const hilum: Vec3 = [right.center[0] - 30, right.center[1] - 10, liverZ - 5];
  const vessels: VesselSegment[] = [];
  const grow = (from: Vec3, direction: Vec3, length: number, radius: number, depth: number) => {
    const to: Vec3 = [from[0] + direction[0] * length, from[1] + direction[1] * length, from[2] + direction[2] * length];
    vessels.push({ from, to, radiusMm: radius });
    if (depth === 0) return;
    for (let b = 0; b < 2; b++) {
      const jitter = unitVector(rng);
      const d: Vec3 = [direction[0] + 0.7 * jitter[0], direction[1] + 0.7 * jitter[1], direction[2] + 0.7 * jitter[2]];
      const n = Math.hypot(...d) || 1;
      grow(to, [d[0] / n, d[1] / n, d[2] / n], length * rng.range(0.6, 0.8), radius * 0.65, depth - 1);
    }
  };
  grow(hilum, [0.8, 0.3, 0.5], rng.range(30, 40), 6, 3);
  grow(hilum, [-0.9, 0.4, 0.2], rng.range(25, 35), 5, 2);

  const anatomy: Anatomy = {
    bodySemiAxes: [bodyA, bodyB],
    fatMm: rng.range(6, 22),
    muscleMm: rng.range(6, 11),
    liverLobes: [right, left],
    liverDeformation: rng.range(0.04, 0.09),
    kidneys,
    spleen,
    stomach,
    bowel,
    vessels,
    liverHu: rng.range(62, 80),
    noiseSigmaHu: rng.range(8, 13),
    textureSeed: rng.nextUint32(),
  };

  const vascularity = rng.range(0.1, 1);
  const heterogeneity = rng.uniform();
  const lesionCount = rng.bernoulli(0.55) ? 1 : rng.bernoulli(0.6) ? 2 : 3;
  const lesions: Lesion[] = [];
  const mainRadius = clamp(Math.exp(rng.normal(Math.log(20), 0.4)), 8, 45);
  for (let i = 0; i < lesionCount; i++) {
    const radius = i === 0 ? mainRadius : clamp(Math.exp(rng.normal(Math.log(mainRadius * 0.45), 0.3)), 5, mainRadius);
    const radii: Vec3 = [radius * rng.range(0.85, 1.15), radius * rng.range(0.85, 1.15), radius * rng.range(0.8, 1.1)];
    const lobe = i === 0 ? right : rng.bernoulli(0.75) ? right : left;
    // place the centre inside the lobe with room for the lesion
    let center: Vec3 = [lobe.center[0], lobe.center[1], lobe.center[2]];
    for (let attempt = 0; attempt < 50; attempt++) {
      const u = unitVector(rng);
      const depth = rng.range(0, 0.55);
      const candidate: Vec3 = [
        lobe.center[0] + u[0] * depth * lobe.radii[0],
        lobe.center[1] + u[1] * depth * lobe.radii[1],
        lobe.center[2] + u[2] * depth * lobe.radii[2],
      ];
      const margin = ellipsoidRho({ center: lobe.center, radii: [lobe.radii[0] - radius, lobe.radii[1] - radius, lobe.radii[2] - radius] }, ...candidate);
      const apart = lesions.every(
        (other) =>
          Math.hypot(candidate[0] - other.center[0], candidate[1] - other.center[1], candidate[2] - other.center[2]) > radius + Math.max(...other.radii) + 4,
      );
      center = candidate;
      if (margin < 0.95 && apart) break;
    }
    const lobes: Lobe[] = [];
    const lobeCount = rng.int(2, 4);
    for (let j = 0; j < lobeCount; j++) {
      lobes.push({ direction: unitVector(rng), amplitude: rng.range(0.03, 0.09), frequency: rng.range(2, 5), phase: rng.range(0, 2 * Math.PI) });
    }
    lesions.push({
      center,
      radii,
      rotationZ: rng.range(0, Math.PI),
      lobes,
      enhancementHu: clamp(30 + 70 * vascularity + rng.normal(0, 8), 22, 115),
      capsuleMm: rng.bernoulli(0.6) ? rng.range(1.2, 2.5) : 0,
      volumeMl: ((4 / 3) * Math.PI * radii[0] * radii[1] * radii[2]) / 1000,
    });
  }
  const hasCapsule = lesions[0]!.capsuleMm > 0;
  const logSize = (Math.log(mainRadius) - Math.log(20)) / 0.4;
  const sensitivity: Record<DrugClass, number> = {
    platinum: logistic(0.1 + 1.6 * (vascularity - 0.55) + rng.normal(0, 0.9)),
    anthracycline: logistic(0.1 + 1.6 * (heterogeneity - 0.5) + rng.normal(0, 0.9)),
    antimetabolite: logistic(-0.2 - 0.7 * logSize + rng.normal(0, 0.9)),
    'antitumour-antibiotic': logistic(-0.2 + 0.6 * (lesionCount - 1.5) + rng.normal(0, 0.9)),
    'topoisomerase-inhibitor': logistic(-0.5 + rng.normal(0, 1.1)),
  };
  const drugIdiosyncrasy = Object.fromEntries(DRUGS.map((d) => [d, Math.exp(rng.normal(0, 0.3))])) as Record<DrugId, number>;
  const embolicIdiosyncrasy = Object.fromEntries(EMBOLICS.map((e) => [e, Math.exp(rng.normal(0, 0.3))])) as Record<EmbolicId, number>;
  const biology: TumourBiology = {
    vascularity,
    heterogeneity,
    sensitivity,
    drugIdiosyncrasy,
    embolicIdiosyncrasy,
    lipiodolUptake: logistic(2.4 * (vascularity - 0.5) + (hasCapsule ? 0.6 : -0.2) + rng.normal(0, 0.6)),
    arteriovenousShunt: rng.bernoulli(0.06 + 0.22 * vascularity),
    liverReserve,
    frailty: rng.normal(0, 0.35),
    resorption: rng.range(0.35, 0.65),
  };
  return { caseId, seed, anatomy, lesions, biology };
}

export function totalTumourMl(phenotype: Phenotype): number {
  return phenotype.lesions.reduce((sum, l) => sum + l.volumeMl, 0);
}
