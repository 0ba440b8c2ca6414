/**
 * The TACE action base (the paper's drugs and embolic materials) and the clinical rules that
 * prune conflicting combinations. This module is the single owner of both: the world, the
 * policies, the planner and the learned models all read agent ids and rules from here.
 * Pure: safe to import from Temporal workflows.
 */

export const DRUGS = [
  'raltitrexed',
  'cisplatin',
  'oxaliplatin',
  'lobaplatin',
  'nedaplatin',
  'epirubicin',
  'doxorubicin',
  'idarubicin',
  'pirarubicin',
  'mitomycin',
  'hydroxycamptothecin',
  'fluorouracil',
] as const;

export const EMBOLICS = ['lipiodol', 'gelatin-sponge', 'pva', 'drug-eluting-beads', 'absolute-alcohol', 'nbca'] as const;

export type DrugId = (typeof DRUGS)[number];
export type EmbolicId = (typeof EMBOLICS)[number];
export type AgentId = DrugId | EmbolicId;
export type Phase = 'drug' | 'embolic';

export type DrugClass = 'platinum' | 'anthracycline' | 'antimetabolite' | 'antitumour-antibiotic' | 'topoisomerase-inhibitor';
export type EmbolicClass = 'oily' | 'temporary-particle' | 'permanent-particle' | 'liquid-sclerosant' | 'liquid-adhesive';

export interface AgentInfo<Id extends AgentId, Class extends string> {
  readonly id: Id;
  /** The name as it appears in reports and prompts. */
  readonly displayName: string;
  readonly agentClass: Class;
  /** Typical dose for one TACE session: mg for drugs, ml for liquid embolics, 0 for particles dosed "as needed". */
  readonly typicalDose: number;
  readonly doseUnit: 'mg' | 'ml' | 'vial' | 'as-needed';
  /** Lower-case synonyms, abbreviations and brand names seen in reports and LLM answers. */
  readonly synonyms: readonly string[];
}

export const DRUG_INFO: { readonly [Id in DrugId]: AgentInfo<Id, DrugClass> } = {
  raltitrexed: {
    id: 'raltitrexed',
    displayName: 'Raltitrexed',
    agentClass: 'antimetabolite',
    typicalDose: 4,
    doseUnit: 'mg',
    synonyms: ['raltitrexed', 'tomudex', 'rtx'],
  },
  cisplatin: {
    id: 'cisplatin',
    displayName: 'Cisplatin',
    agentClass: 'platinum',
    typicalDose: 40,
    doseUnit: 'mg',
    synonyms: ['cisplatin', 'cddp', 'ddp', 'cis-platinum'],
  },
  oxaliplatin: {
    id: 'oxaliplatin',
    displayName: 'Oxaliplatin',
    agentClass: 'platinum',
    typicalDose: 100,
    doseUnit: 'mg',
    synonyms: ['oxaliplatin', 'l-ohp', 'oxa', 'eloxatin'],
  },
  lobaplatin: { id: 'lobaplatin', displayName: 'Lobaplatin', agentClass: 'platinum', typicalDose: 50, doseUnit: 'mg', synonyms: ['lobaplatin', 'lbp'] },
  nedaplatin: { id: 'nedaplatin', displayName: 'Nedaplatin', agentClass: 'platinum', typicalDose: 80, doseUnit: 'mg', synonyms: ['nedaplatin', 'ndp'] },
  epirubicin: {
    id: 'epirubicin',
    displayName: 'Epirubicin',
    agentClass: 'anthracycline',
    typicalDose: 40,
    doseUnit: 'mg',
    synonyms: ['epirubicin', 'epi', 'epi-adm', 'pharmorubicin'],
  },
  doxorubicin: {
    id: 'doxorubicin',
    displayName: 'Doxorubicin',
    agentClass: 'anthracycline',
    typicalDose: 50,
    doseUnit: 'mg',
    synonyms: ['doxorubicin', 'adriamycin', 'adm', 'dox'],
  },
  idarubicin: {
    id: 'idarubicin',
    displayName: 'Idarubicin',
    agentClass: 'anthracycline',
    typicalDose: 10,
    doseUnit: 'mg',
    synonyms: ['idarubicin', 'ida', 'zavedos'],
  },
  pirarubicin: {
    id: 'pirarubicin',
    displayName: 'Pirarubicin',
    agentClass: 'anthracycline',
    typicalDose: 40,
    doseUnit: 'mg',
    synonyms: ['pirarubicin', 'thp', 'thp-adm', 'tetrahydropyranyl-adriamycin'],
  },
  mitomycin: {
    id: 'mitomycin',
    displayName: 'Mitomycin',
    agentClass: 'antitumour-antibiotic',
    typicalDose: 10,
    doseUnit: 'mg',
    synonyms: ['mitomycin', 'mitomycin c', 'mmc'],
  },
  hydroxycamptothecin: {
    id: 'hydroxycamptothecin',
    displayName: 'Hydroxycamptothecin',
    agentClass: 'topoisomerase-inhibitor',
    typicalDose: 10,
    doseUnit: 'mg',
    synonyms: ['hydroxycamptothecin', 'hcpt', '10-hydroxycamptothecin'],
  },
  fluorouracil: {
    id: 'fluorouracil',
    displayName: 'Fluorouracil',
    agentClass: 'antimetabolite',
    typicalDose: 750,
    doseUnit: 'mg',
    synonyms: ['fluorouracil', '5-fu', '5fu', '5-fluorouracil'],
  },
};

export const EMBOLIC_INFO: { readonly [Id in EmbolicId]: AgentInfo<Id, EmbolicClass> } = {
  lipiodol: {
    id: 'lipiodol',
    displayName: 'Lipiodol',
    agentClass: 'oily',
    typicalDose: 10,
    doseUnit: 'ml',
    synonyms: ['lipiodol', 'ultra-liquid lipiodol', 'ethiodized oil', 'iodized oil', 'lipiodol ultra-fluide'],
  },
  'gelatin-sponge': {
    id: 'gelatin-sponge',
    displayName: 'Gelatin Sponge',
    agentClass: 'temporary-particle',
    typicalDose: 0,
    doseUnit: 'as-needed',
    synonyms: ['gelatin sponge', 'gelatin sponge particles', 'gelfoam', 'gelatin foam', 'gsp'],
  },
  pva: {
    id: 'pva',
    displayName: 'PVA',
    agentClass: 'permanent-particle',
    typicalDose: 0,
    doseUnit: 'as-needed',
    synonyms: ['pva', 'polyvinyl alcohol', 'pva particles', 'contour'],
  },
  'drug-eluting-beads': {
    id: 'drug-eluting-beads',
    displayName: 'LC beads',
    agentClass: 'permanent-particle',
    typicalDose: 1,
    doseUnit: 'vial',
    synonyms: ['lc beads', 'lc bead', 'dc beads', 'drug-eluting beads', 'drug eluting beads', 'deb', 'callispheres'],
  },
  'absolute-alcohol': {
    id: 'absolute-alcohol',
    displayName: 'Absolute Alcohol',
    agentClass: 'liquid-sclerosant',
    typicalDose: 5,
    doseUnit: 'ml',
    synonyms: ['absolute alcohol', 'absolute ethanol', 'dehydrated alcohol', 'ethanol'],
  },
  nbca: {
    id: 'nbca',
    displayName: 'NBCA',
    agentClass: 'liquid-adhesive',
    typicalDose: 1,
    doseUnit: 'ml',
    synonyms: ['nbca', 'n-butyl cyanoacrylate', 'n-butyl-2-cyanoacrylate', 'glue', 'histoacryl'],
  },
};

export function isDrug(id: string): id is DrugId {
  return (DRUGS as readonly string[]).includes(id);
}
export function isEmbolic(id: string): id is EmbolicId {
  return (EMBOLICS as readonly string[]).includes(id);
}
export function phaseOf(id: AgentId): Phase {
  return isDrug(id) ? 'drug' : 'embolic';
}
export function agentInfo(id: AgentId): AgentInfo<AgentId, string> {
  return isDrug(id) ? DRUG_INFO[id] : EMBOLIC_INFO[id as EmbolicId];
}

/** A TACE protocol: the action combo. Canonical form keeps each list in vocabulary order. */
export interface Protocol {
  readonly drugs: readonly DrugId[];
  readonly embolics: readonly EmbolicId[];
}

export const EMPTY_PROTOCOL: Protocol = { drugs: [], embolics: [] };

export function canonicalProtocol(protocol: Protocol): Protocol {
  return {
    drugs: DRUGS.filter((d) => protocol.drugs.includes(d)),
    embolics: EMBOLICS.filter((e) => protocol.embolics.includes(e)),
  };
}

export function withAgent(protocol: Protocol, agent: AgentId): Protocol {
  return isDrug(agent)
    ? canonicalProtocol({ drugs: [...protocol.drugs, agent], embolics: protocol.embolics })
    : canonicalProtocol({ drugs: protocol.drugs, embolics: [...protocol.embolics, agent as EmbolicId] });
}

export function protocolAgents(protocol: Protocol): AgentId[] {
  const p = canonicalProtocol(protocol);
  return [...p.drugs, ...p.embolics];
}

/** Stable text key, e.g. "cisplatin+epirubicin|lipiodol". */
export function protocolKey(protocol: Protocol): string {
  const p = canonicalProtocol(protocol);
  return `${p.drugs.join('+')}|${p.embolics.join('+')}`;
}

/** Human form, e.g. "Cisplatin; Epirubicin; Lipiodol" (the paper's Table 4 style). */
export function protocolLabel(protocol: Protocol): string {
  const names = protocolAgents(protocol).map((a) => agentInfo(a).displayName);
  return names.length === 0 ? '(none)' : names.join('; ');
}

// ---------------------------------------------------------------------------------------------
// Clinical rules

export type RuleId =
  | 'single-platinum'
  | 'single-anthracycline'
  | 'single-thymidylate-synthase-inhibitor'
  | 'single-liquid-embolic'
  | 'single-permanent-particle'
  | 'no-duplicate-agent';

export interface ClinicalRule {
  readonly id: RuleId;
  readonly description: string;
  /** The agents in `protocol` that break this rule together, or none. */
  readonly conflicts: (protocol: Protocol) => AgentId[];
}

function atMostOne(id: RuleId, description: string, members: (agent: AgentId) => boolean): ClinicalRule {
  return {
    id,
    description,
    conflicts: (protocol) => {
      const hits = protocolAgents(protocol).filter(members);
      return hits.length > 1 ? hits : [];
    },
  };
}

const drugClass = (agent: AgentId) => (isDrug(agent) ? DRUG_INFO[agent].agentClass : undefined);
const embolicClass = (agent: AgentId) => (isEmbolic(agent) ? EMBOLIC_INFO[agent].agentClass : undefined);

export const CLINICAL_RULES: readonly ClinicalRule[] = [
  atMostOne(
    'single-platinum',
    'Concomitant platinum agents are contraindicated (cumulative nephro-, oto- and myelotoxicity).',
    (a) => drugClass(a) === 'platinum',
  ),
  atMostOne('single-anthracycline', 'Concomitant anthracyclines are contraindicated (cumulative cardiotoxicity).', (a) => drugClass(a) === 'anthracycline'),
  atMostOne(
    'single-thymidylate-synthase-inhibitor',
    'Raltitrexed and fluorouracil share one target (thymidylate synthase): use one.',
    (a) => drugClass(a) === 'antimetabolite',
  ),
  atMostOne('single-liquid-embolic', 'Absolute alcohol and NBCA are not combined (non-target embolisation and catheter entrapment risk).', (a) => {
    const c = embolicClass(a);
    return c === 'liquid-sclerosant' || c === 'liquid-adhesive';
  }),
  atMostOne(
    'single-permanent-particle',
    'Use one permanent particulate embolic (PVA or drug-eluting beads), not both.',
    (a) => embolicClass(a) === 'permanent-particle',
  ),
];

export interface RuleViolation {
  readonly rule: RuleId;
  readonly agents: readonly AgentId[];
  readonly description: string;
}

export function ruleViolations(protocol: Protocol): RuleViolation[] {
  const violations: RuleViolation[] = [];
  const agents = [...protocol.drugs, ...protocol.embolics];
  const duplicates = agents.filter((a, i) => agents.indexOf(a) !== i);
  if (duplicates.length > 0) {
    violations.push({ rule: 'no-duplicate-agent', agents: [...new Set(duplicates)], description: 'An agent appears twice in one protocol.' });
  }
  for (const rule of CLINICAL_RULES) {
    const hits = rule.conflicts(protocol);
    if (hits.length > 0) violations.push({ rule: rule.id, agents: hits, description: rule.description });
  }
  return violations;
}

export function isValidProtocol(protocol: Protocol): boolean {
  return ruleViolations(protocol).length === 0;
}

/** Whether `agent` may extend `protocol` (not already there and no rule broken). */
export function canExtend(protocol: Protocol, agent: AgentId): boolean {
  if (protocolAgents(protocol).includes(agent)) return false;
  return isValidProtocol(withAgent(protocol, agent));
}

/** Enumerates every rule-valid protocol with 1..maxDrugs drugs and 1..maxEmbolics embolics. */
export function validProtocols(maxDrugs: number, maxEmbolics: number, drugs: readonly DrugId[] = DRUGS, embolics: readonly EmbolicId[] = EMBOLICS): Protocol[] {
  const subsets = <T>(items: readonly T[], max: number): T[][] => {
    const out: T[][] = [];
    const walk = (start: number, current: T[]) => {
      if (current.length > 0) out.push([...current]);
      if (current.length === max) return;
      for (let i = start; i < items.length; i++) walk(i + 1, [...current, items[i]!]);
    };
    walk(0, []);
    return out;
  };
  const result: Protocol[] = [];
  for (const d of subsets(drugs, maxDrugs)) {
    for (const e of subsets(embolics, maxEmbolics)) {
      const p = canonicalProtocol({ drugs: d, embolics: e });
      if (isValidProtocol(p)) result.push(p);
    }
  }
  return result;
}
