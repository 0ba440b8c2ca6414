/**
 * Maps free-text drug and embolic names (from LLM answers and procedure reports) onto the
 * controlled vocabulary of `src/core/vocabulary.ts`. Matching order: exact synonym after
 * normalisation (case, punctuation, dose text, salt/form words), then singular forms, then a
 * bounded edit distance on the compact form (none for abbreviations under 5 letters, 1 up to 7,
 * 2 beyond). A fuzzy match is refused when another agent is within one edit of the closest, and names that match nothing are reported, never dropped silently.
 */
import { DRUG_INFO, DRUGS, EMBOLIC_INFO, EMBOLICS, isDrug, isEmbolic, type AgentId, type DrugId, type EmbolicId } from '../core/vocabulary';

export type NameMatch =
  | { readonly kind: 'matched'; readonly input: string; readonly agent: AgentId; readonly via: 'exact' | 'singular' | 'fuzzy'; readonly distance: number }
  | { readonly kind: 'ambiguous'; readonly input: string; readonly candidates: readonly AgentId[] }
  | { readonly kind: 'unknown'; readonly input: string };

/** Words that describe a form or salt of an agent rather than a different agent. */
const FORM_WORDS = new Set([
  'hydrochloride',
  'hcl',
  'injection',
  'for',
  'emulsion',
  'solution',
  'powder',
  'liposomal',
  'particle',
  'particles',
  'mixed',
  'with',
]);

/** Lower case, diacritics and dose text removed, punctuation to single spaces (hyphens kept inside words). */
export function normaliseAgentName(raw: string): string {
  return raw
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/\([^)]*\)/g, ' ')
    .replace(/\b\d+(?:\.\d+)?\s*(?:mg|ml|g|mcg|µg|vials?|cc)\b/g, ' ')
    .replace(/[_/,;:.!?"'`*+]/g, ' ')
    .replace(/\s*-\s*/g, '-')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Letters and digits only: "L-OHP" and "lohp" and "l ohp" share one compact form. */
function compact(text: string): string {
  return text.replace(/[^a-z0-9]/g, '');
}

function withoutFormWords(normalised: string): string {
  return normalised
    .split(' ')
    .filter((w) => !FORM_WORDS.has(w))
    .join(' ');
}

interface Entry {
  readonly compact: string;
  readonly agent: AgentId;
}

function buildIndex(): { exact: Map<string, AgentId[]>; entries: Entry[] } {
  const exact = new Map<string, AgentId[]>();
  const entries: Entry[] = [];
  const add = (name: string, agent: AgentId) => {
    const key = compact(normaliseAgentName(name));
    if (key.length === 0) return;
    const list = exact.get(key) ?? [];
    if (!list.includes(agent)) list.push(agent);
    exact.set(key, list);
    entries.push({ compact: key, agent });
  };
  for (const id of DRUGS) {
    const info = DRUG_INFO[id];
    for (const name of [id, info.displayName, ...info.synonyms]) add(name, id);
  }
  for (const id of EMBOLICS) {
    const info = EMBOLIC_INFO[id];
    for (const name of [id, info.displayName, ...info.synonyms]) add(name, id);
  }
  return { exact, entries };
}

const INDEX = buildIndex();

/**
 * Edit distance with adjacent transpositions counted as one edit (optimal string alignment),
 * since swapped letters are the commonest typing slip; stops early once every entry of a row
 * exceeds `limit` and then returns `limit + 1`.
 */
export function boundedEditDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let beforePrevious: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, beforePrevious[j - 2]! + 1);
      current.push(value);
      rowMin = Math.min(rowMin, value);
    }
    if (rowMin > limit) return limit + 1;
    beforePrevious = previous;
    previous = current;
  }
  return Math.min(previous[b.length]!, limit + 1);
}

/** Typos allowed for a compact name of this length: none for abbreviations, 1 up to 7 letters, 2 beyond. */
function typoBudget(length: number): number {
  if (length < 5) return 0;
  return length < 8 ? 1 : 2;
}

function singularForms(normalised: string): string[] {
  const forms: string[] = [];
  const words = normalised.split(' ');
  const last = words[words.length - 1] ?? '';
  const head = words.slice(0, -1);
  if (last.endsWith('es') && last.length > 4) forms.push([...head, last.slice(0, -2)].join(' '));
  if (last.endsWith('s') && last.length > 3) forms.push([...head, last.slice(0, -1)].join(' '));
  return forms;
}

function exactLookup(normalised: string): AgentId[] | undefined {
  const hit = INDEX.exact.get(compact(normalised));
  return hit && hit.length > 0 ? hit : undefined;
}

/** Resolves one free-text name onto an agent id of the vocabulary. */
export function matchAgentName(input: string): NameMatch {
  const normalised = normaliseAgentName(input);
  if (normalised.length === 0) return { kind: 'unknown', input };
  const variants = [normalised, withoutFormWords(normalised)].filter((v, i, all) => v.length > 0 && all.indexOf(v) === i);

  for (const variant of variants) {
    const hit = exactLookup(variant);
    if (hit) return hit.length === 1 ? { kind: 'matched', input, agent: hit[0]!, via: 'exact', distance: 0 } : { kind: 'ambiguous', input, candidates: hit };
  }
  for (const variant of variants) {
    for (const singular of singularForms(variant)) {
      const hit = exactLookup(singular);
      if (hit)
        return hit.length === 1 ? { kind: 'matched', input, agent: hit[0]!, via: 'singular', distance: 0 } : { kind: 'ambiguous', input, candidates: hit };
    }
  }

  const key = compact(variants[variants.length - 1]!);
  const budget = typoBudget(key.length);
  if (budget === 0) return { kind: 'unknown', input };
  // Distances are computed one step beyond the budget so that a runner-up just outside it still
  // counts against the winner: a typo is corrected only when one agent is clearly closest.
  const bestByAgent = new Map<AgentId, number>();
  for (const entry of INDEX.entries) {
    if (typoBudget(entry.compact.length) === 0) continue;
    const d = boundedEditDistance(key, entry.compact, budget + 1);
    if (d <= budget + 1 && d < (bestByAgent.get(entry.agent) ?? Infinity)) bestByAgent.set(entry.agent, d);
  }
  const best = Math.min(Infinity, ...bestByAgent.values());
  if (best > budget) return { kind: 'unknown', input };
  const close = [...bestByAgent.entries()]
    .filter(([, d]) => d <= best + 1)
    .sort((a, b) => a[1] - b[1])
    .map(([a]) => a);
  if (close.length > 1) return { kind: 'ambiguous', input, candidates: close };
  const tied = close;
  return { kind: 'matched', input, agent: tied[0]!, via: 'fuzzy', distance: best };
}

export interface MappedAgentNames {
  readonly drugs: readonly DrugId[];
  readonly embolics: readonly EmbolicId[];
  /** Every name that could not be mapped, with the reason; callers must surface these. */
  readonly problems: readonly NameProblem[];
  readonly matches: readonly NameMatch[];
}

export interface NameProblem {
  readonly input: string;
  readonly reason: 'unknown' | 'ambiguous' | 'wrong-phase';
  readonly detail: string;
}

/**
 * Maps a list of names expected to be of one phase (`drug` or `embolic`; `any` accepts both).
 * Duplicates after mapping are kept once, in first-mention order.
 */
export function mapAgentNames(names: readonly string[], expected: 'drug' | 'embolic' | 'any' = 'any'): MappedAgentNames {
  const drugs: DrugId[] = [];
  const embolics: EmbolicId[] = [];
  const problems: NameProblem[] = [];
  const matches: NameMatch[] = [];
  for (const name of names) {
    const match = matchAgentName(name);
    matches.push(match);
    if (match.kind === 'unknown') {
      problems.push({ input: name, reason: 'unknown', detail: `"${name}" is not a drug or embolic of the vocabulary` });
      continue;
    }
    if (match.kind === 'ambiguous') {
      problems.push({ input: name, reason: 'ambiguous', detail: `"${name}" is equally close to ${match.candidates.join(' and ')}` });
      continue;
    }
    const agent = match.agent;
    if (expected === 'drug' && !isDrug(agent)) {
      problems.push({ input: name, reason: 'wrong-phase', detail: `"${name}" is the embolic ${agent}, listed among the drugs` });
      continue;
    }
    if (expected === 'embolic' && !isEmbolic(agent)) {
      problems.push({ input: name, reason: 'wrong-phase', detail: `"${name}" is the drug ${agent}, listed among the embolics` });
      continue;
    }
    if (isDrug(agent)) {
      if (!drugs.includes(agent)) drugs.push(agent);
    } else if (isEmbolic(agent) && !embolics.includes(agent)) {
      embolics.push(agent);
    }
  }
  return { drugs, embolics, problems, matches };
}
