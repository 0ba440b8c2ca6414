/**
 * TACE procedure reports in the style of the paper's Table 5, with realistic noise, and the
 * attenuation level 1–4 their final-angiography outcome implies (higher = better effect).
 *
 * Attenuation level of a treated patient: from the realised burden-weighted viable ratio r
 * (viable post volume / pre tumour volume): 4 if r < 0.12, 3 if r < 0.30, 2 if r < 0.55, else 1.
 *
 * Outcome wording (the only text that carries the level; never touched by typos). Each level has
 * fixed phrases (`ATTENUATION_PHRASES`), always followed by " on the final angiography." and
 * written with "tumor" or, sometimes, "tumour":
 *   4 disappeared      — "tumor staining disappeared", "tumor staining completely disappeared",
 *                        "no tumor staining was observed"
 *   3 mostly gone      — "tumor staining mostly disappeared", "tumor staining largely disappeared",
 *                        "tumor-feeding arteries were occluded"
 *   2 mostly occluded  — "tumor-feeding arteries were mostly occluded", "tumor-feeding arteries
 *                        were largely occluded", "tumor staining was markedly reduced"
 *   1 reduced          — "tumor staining was reduced", "tumor staining was partially reduced",
 *                        "tumor-feeding arteries were partially occluded", "residual tumor
 *                        staining was observed"
 * `attenuationLevelOf(text)` is the reference reading: qualifiers decide before head words
 * (partially/residual → 1; markedly reduced, mostly/largely occluded → 2; plain reduced → 1;
 * mostly/largely disappeared and plain occluded → 3; disappeared / no staining → 4).
 *
 * Noise: agent names appear as their display name or any synonym from the vocabulary
 * (abbreviations upper-cased: "THP", "CDDP", "5-FU"); one drug may be split between infusion and
 * emulsion (mentioned twice); with probability 0.05 a drug name of 7+ letters gets two adjacent
 * inner letters swapped (a typo); filler words get occasional typos or British spellings.
 */
import { Rng, deriveSeed } from '../core/random';
import { DRUG_INFO, EMBOLIC_INFO, canonicalProtocol, type AgentId, type DrugId, type EmbolicId, type Protocol } from '../core/vocabulary';
import type { Phenotype } from './phenotype';
import type { ResponseState } from './response';

export type AttenuationLevel = 1 | 2 | 3 | 4;

export const ATTENUATION_PHRASES: Readonly<Record<AttenuationLevel, readonly string[]>> = {
  4: ['tumor staining disappeared', 'tumor staining completely disappeared', 'no tumor staining was observed'],
  3: ['tumor staining mostly disappeared', 'tumor staining largely disappeared', 'tumor-feeding arteries were occluded'],
  2: ['tumor-feeding arteries were mostly occluded', 'tumor-feeding arteries were largely occluded', 'tumor staining was markedly reduced'],
  1: [
    'tumor staining was reduced',
    'tumor staining was partially reduced',
    'tumor-feeding arteries were partially occluded',
    'residual tumor staining was observed',
  ],
};

/** Thresholds on the realised viable ratio (see the module doc). */
export function attenuationLevelForState(state: Pick<ResponseState, 'viableRatio'>): AttenuationLevel {
  const r = state.viableRatio;
  return r < 0.12 ? 4 : r < 0.3 ? 3 : r < 0.55 ? 2 : 1;
}

/** Reference reading of a report's final-angiography outcome; undefined when none is found. */
export function attenuationLevelOf(text: string): AttenuationLevel | undefined {
  const t = text.toLowerCase().replace(/tumour/g, 'tumor');
  if (/partially (reduced|occluded)|residual tumor staining/.test(t)) return 1;
  if (/markedly reduced|(mostly|largely) occluded/.test(t)) return 2;
  if (/staining was reduced/.test(t)) return 1;
  if (/(mostly|largely) disappeared|arteries were occluded/.test(t)) return 3;
  if (/no tumor staining|staining (completely )?disappeared/.test(t)) return 4;
  return undefined;
}

export interface ReportMention {
  readonly agent: AgentId;
  /** The text used for the agent, exactly as it appears in the report. */
  readonly surface: string;
  /** e.g. "40 mg", "10 ml", "1 vial", or undefined for "an appropriate amount". */
  readonly dose?: string;
}

export interface GeneratedReport {
  readonly text: string;
  readonly attenuationLevel: AttenuationLevel;
  readonly protocol: Protocol;
  /** Every occurrence of an agent in `text`, in order. */
  readonly mentions: readonly ReportMention[];
}

export interface ReportInput {
  readonly phenotype: Phenotype;
  readonly protocol: Protocol;
  readonly state: Pick<ResponseState, 'viableRatio' | 'lipiodolFraction'>;
  readonly seed: number;
}

const ANTHRACYCLINES: readonly DrugId[] = ['epirubicin', 'doxorubicin', 'idarubicin', 'pirarubicin'];

function surfaceName(agent: AgentId, rng: Rng): string {
  const info = agent in DRUG_INFO ? DRUG_INFO[agent as DrugId] : EMBOLIC_INFO[agent as EmbolicId];
  const name = rng.bernoulli(0.6) ? info.displayName : rng.pick(info.synonyms);
  if (name === info.displayName) return name;
  const abbreviation = !name.includes(' ') && (name.length <= 5 || (name.length <= 7 && /[-\d]/.test(name)));
  if (abbreviation) return name.toUpperCase();
  return rng.bernoulli(0.5) ? name[0]!.toUpperCase() + name.slice(1) : name;
}

function withTypo(name: string, rng: Rng): string {
  if (name.length < 7 || !/^[A-Za-z]+$/.test(name) || !rng.bernoulli(0.05)) return name;
  const i = rng.int(1, name.length - 3);
  return name.slice(0, i) + name[i + 1] + name[i] + name.slice(i + 2);
}

function doseOf(agent: DrugId, rng: Rng): number {
  const typical = DRUG_INFO[agent].typicalDose;
  const dose = typical * rng.pick([0.5, 0.75, 1, 1, 1.25]);
  return dose >= 20 ? Math.round(dose / 10) * 10 : Math.max(1, Math.round(dose));
}

function segmentOf(phenotype: Phenotype): string {
  const lesion = phenotype.lesions[0]!;
  const [right] = phenotype.anatomy.liverLobes;
  const [x, y, z] = lesion.center;
  if (x < right.center[0] - 0.6 * right.radii[0]) return y > right.center[1] + 20 ? 'S3' : 'S2';
  if (x < right.center[0] - 0.35 * right.radii[0]) return 'S4';
  const superior = z > right.center[2];
  const anterior = y > right.center[1];
  return anterior ? (superior ? 'S8' : 'S5') : superior ? 'S7' : 'S6';
}

const FILLER_NOISE: ReadonlyArray<readonly [string, string]> = [
  ['catheter', 'cathether'],
  ['fluoroscopic', 'fluroscopic'],
  ['embolization', 'embolisation'],
  ['emulsion for', 'emulsoin for'],
  ['satisfactory', 'satisfactorey'],
];

/** One TACE procedure report for a treated patient. Deterministic in `seed`. */
export function generateReport(input: ReportInput): GeneratedReport {
  const rng = new Rng(deriveSeed(input.seed, 'report'));
  const protocol = canonicalProtocol(input.protocol);
  const level = attenuationLevelForState(input.state);
  const mentions: ReportMention[] = [];
  const mention = (agent: AgentId, dose?: string) => {
    const surface = agent in DRUG_INFO ? withTypo(surfaceName(agent, rng), rng) : surfaceName(agent, rng);
    mentions.push(dose === undefined ? { agent, surface } : { agent, surface, dose });
    return surface;
  };
  const clauses: string[] = [];
  const hasLipiodol = protocol.embolics.includes('lipiodol');
  const hasBeads = protocol.embolics.includes('drug-eluting-beads');
  const drugs = rng.shuffle(protocol.drugs);
  // the drug that goes into the emulsion or onto the beads: an anthracycline when there is one
  // (only anthracyclines load onto beads); any drug may go into a Lipiodol emulsion
  const anthracycline = drugs.find((d) => ANTHRACYCLINES.includes(d));
  const emulsionOnly = hasLipiodol && !hasBeads && rng.bernoulli(0.4) ? drugs[0] : undefined;
  const carried = hasLipiodol || hasBeads ? (anthracycline ?? emulsionOnly) : undefined;
  const splitCarried = carried !== undefined && rng.bernoulli(0.35);
  const infused = drugs.filter((d) => d !== carried || splitCarried);
  if (infused.length > 0) {
    const parts = infused.map((d) => {
      const dose = `${doseOf(d, rng)} mg`;
      const name = mention(d, dose);
      return `${name} ${dose}`;
    });
    clauses.push(`${parts.join(' and ')} ${parts.length > 1 ? 'were' : 'was'} infused through the catheter`);
  }
  const segment = segmentOf(input.phenotype);
  const branch = segment === 'S2' || segment === 'S3' || segment === 'S4' ? 'left hepatic artery' : 'right hepatic artery';
  if (hasLipiodol) {
    const ml = rng.pick([5, 6, 8, 10, 10, 12, 15, 20]);
    if (carried !== undefined && !hasBeads) {
      const dose = `${doseOf(carried, rng)} mg`;
      const lip = mention('lipiodol', `${ml} ml`);
      const drug = mention(carried, dose);
      const oil = /ultra/i.test(lip) ? lip : `ultra-liquid ${lip}`;
      const mixed = rng.bernoulli(0.5) ? `${ml} ml ${oil} and ${dose} ${drug}` : `${dose} ${drug} and ${ml} ml ${oil}`;
      clauses.push(`${mixed} were mixed to create an emulsion for embolization`);
      clauses.push(
        rng.bernoulli(0.5)
          ? `${ml + rng.int(0, 3)} ml of the emulsion was slowly injected under fluoroscopic guidance`
          : 'the emulsion was slowly injected under fluoroscopic guidance',
      );
    } else {
      const lip = mention('lipiodol', `${ml} ml`);
      clauses.push(
        `${ml} ml ${rng.bernoulli(0.5) && !/ultra/i.test(lip) ? 'ultra-liquid ' : ''}${lip} was slowly injected under fluoroscopic guidance for embolization of the ${branch} tumor-feeding branches`,
      );
    }
  }
  for (const embolic of protocol.embolics) {
    if (embolic === 'lipiodol') continue;
    const name = () => mention(embolic, embolic === 'drug-eluting-beads' ? '1 vial' : undefined);
    switch (embolic) {
      case 'gelatin-sponge':
        clauses.push(
          `${rng.pick(['an appropriate amount of', 'a small amount of'])} ${name()}${/particle/i.test(mentions.at(-1)!.surface) ? '' : ' particles'} was used to embolize the tumor-feeding branches of the ${segment} segment of the ${branch}`,
        );
        break;
      case 'pva': {
        const surface = name();
        clauses.push(
          `${surface}${/particle/i.test(surface) ? '' : ' particles'} (${rng.pick(['300-500', '500-700'])} μm) were used to embolize the tumor-feeding branches of the ${segment} segment`,
        );
        break;
      }
      case 'drug-eluting-beads': {
        const beads = name();
        if (carried !== undefined && !hasLipiodol) {
          const dose = `${doseOf(carried, rng)} mg`;
          const drug = mention(carried, dose);
          clauses.push(`1 vial of ${beads} (100-300 μm) loaded with ${dose} ${drug} was slowly delivered into the tumor-feeding branches`);
        } else {
          clauses.push(`1 vial of ${beads} (100-300 μm) was slowly delivered into the tumor-feeding branches`);
        }
        break;
      }
      case 'absolute-alcohol': {
        const ml = rng.pick([2, 3, 5]);
        clauses.push(`${ml} ml ${name()} was injected into the tumor-feeding artery`);
        break;
      }
      case 'nbca':
        clauses.push(`${name()} (${rng.pick([0.5, 1, 1.5])} ml) was used to occlude the tumor-feeding artery`);
        break;
    }
  }
  // drugs carried by beads together with Lipiodol: say so in one clause
  if (carried !== undefined && hasBeads && hasLipiodol) {
    const dose = `${doseOf(carried, rng)} mg`;
    clauses.push(`the beads were loaded with ${dose} ${mention(carried, dose)}`);
  }
  if (hasLipiodol) {
    const quality = input.state.lipiodolFraction > 0.35 ? 'satisfactory' : input.state.lipiodolFraction > 0.15 ? 'acceptable' : 'poor';
    clauses.push(`Lipiodol deposition in the tumor was ${quality}`);
    mentions.push({ agent: 'lipiodol', surface: 'Lipiodol' });
  }
  let outcome = rng.pick(ATTENUATION_PHRASES[level]);
  if (rng.bernoulli(0.15)) outcome = outcome.replace('tumor', 'tumour');
  clauses.push(`${outcome} on the final angiography`);
  const first = clauses[0]!;
  clauses[0] = first[0]!.toUpperCase() + first.slice(1);
  // a report opening with an agent name capitalises it: keep the mention as written
  const opening = mentions.findIndex((m) => first.startsWith(m.surface));
  if (opening >= 0 && clauses[0] !== first) {
    const m = mentions[opening]!;
    mentions[opening] = { ...m, surface: m.surface[0]!.toUpperCase() + m.surface.slice(1) };
  }
  let text = clauses.join('; ') + '.';
  const outcomeStart = text.lastIndexOf(outcome);
  let body = text.slice(0, outcomeStart);
  for (const [from, to] of FILLER_NOISE) if (body.includes(from) && rng.bernoulli(0.08)) body = body.replace(from, to);
  text = body + text.slice(outcomeStart);
  return { text, attenuationLevel: level, protocol, mentions };
}
