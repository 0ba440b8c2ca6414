/**
 * The fixed protocol panel of the action-fidelity evaluation: the same protocols for every
 * patient, so that "does the learned simulation rank protocols as the world does" is asked of one
 * patient at a time (within-patient Spearman) and "does it know what each agent does" of the
 * panel as a whole (per-agent table).
 *
 * Every entry is rule-valid and inside the world's default horizons (1–2 drugs, 1–2 embolics:
 * `validProtocols(2, 2)`), i.e. something the planner could propose. Together they cover every
 * drug class and every embolic agent of `src/core/vocabulary.ts` (checked by `panelCoverage` and a
 * test). Contrasts are built in pairs that differ by one agent, so the per-agent table and the
 * per-case Spearman show *which* change of action a model misses.
 */
import {
  DRUG_INFO,
  DRUGS,
  EMBOLICS,
  isValidProtocol,
  protocolAgents,
  protocolKey,
  type DrugClass,
  type DrugId,
  type EmbolicId,
  type Protocol,
} from '../../core/vocabulary';

export interface PanelEntry {
  readonly protocol: Protocol;
  /** Why this protocol is in the panel: the contrast it makes with another entry. */
  readonly why: string;
}

const p = (drugs: readonly DrugId[], embolics: readonly EmbolicId[]): Protocol => ({ drugs, embolics });

export const FIDELITY_PANEL: readonly PanelEntry[] = [
  // Lipiodol with one drug of each class: the embolic is fixed, so the differences come from the drug alone.
  {
    protocol: p(['epirubicin'], ['lipiodol']),
    why: "conventional TACE, anthracycline + Lipiodol: the reference every other entry differs from by one agent (the issue sweep's base protocol)",
  },
  { protocol: p(['cisplatin'], ['lipiodol']), why: 'platinum class with Lipiodol: same embolic as the reference, another drug class' },
  { protocol: p(['raltitrexed'], ['lipiodol']), why: 'antimetabolite class (a weaker drug, potency 0.42): the drug ranking, not only the drug/no-drug switch' },
  { protocol: p(['mitomycin'], ['lipiodol']), why: 'antitumour-antibiotic class with Lipiodol' },
  { protocol: p(['hydroxycamptothecin'], ['lipiodol']), why: 'topoisomerase-inhibitor class, the least potent drug: bottom of the drug ranking' },
  // The reference drug with each other embolic: the drug is fixed, the differences come from the embolic alone.
  { protocol: p(['epirubicin'], ['gelatin-sponge']), why: 'temporary particle instead of Lipiodol: no Lipiodol band may appear' },
  {
    protocol: p(['epirubicin'], ['pva']),
    why: 'permanent particle (PVA) instead of Lipiodol: no Lipiodol band; the issue found the learned model drew Lipiodol here',
  },
  {
    protocol: p(['doxorubicin'], ['drug-eluting-beads']),
    why: 'DEB-TACE: the other permanent particle (drug delivery ×1.15), with the other common anthracycline',
  },
  { protocol: p(['epirubicin'], ['absolute-alcohol']), why: 'liquid sclerosant: strong kill on small lesions and the highest embolic toxicity (liver shift)' },
  { protocol: p(['epirubicin'], ['nbca']), why: 'liquid adhesive: kill depends on the arteriovenous shunt' },
  // Combinations: more agents, more kill and more (super-additive) toxicity.
  {
    protocol: p(['cisplatin', 'epirubicin'], ['lipiodol']),
    why: 'two drugs (platinum + anthracycline): more kill and combination toxicity (×1.2) against the reference',
  },
  {
    protocol: p(['epirubicin'], ['lipiodol', 'gelatin-sponge']),
    why: 'Lipiodol + particle, the common cTACE: Lipiodol kill ×1.15 with a particle, two-embolic toxicity',
  },
  {
    protocol: p(['oxaliplatin', 'fluorouracil'], ['lipiodol', 'drug-eluting-beads']),
    why: 'the heaviest entry (two drugs, two embolics, two more drugs of the platinum and antimetabolite classes): toxicity should show in the liver',
  },
  { protocol: p(['raltitrexed'], ['gelatin-sponge']), why: 'weak drug + weak temporary embolic: the low-kill end of the panel (most viable tumour)' },
];

/** What a panel fails to cover or allow; all empty for a usable panel. */
export function panelCoverage(panel: readonly PanelEntry[]): {
  readonly missingDrugClasses: DrugClass[];
  readonly missingEmbolics: EmbolicId[];
  readonly invalid: string[];
  readonly duplicates: string[];
} {
  const agents = new Set(panel.flatMap((e) => protocolAgents(e.protocol)));
  const classes = new Set(DRUGS.filter((d) => agents.has(d)).map((d) => DRUG_INFO[d].agentClass));
  const allClasses = [...new Set(DRUGS.map((d) => DRUG_INFO[d].agentClass))];
  const keys = panel.map((e) => protocolKey(e.protocol));
  return {
    missingDrugClasses: allClasses.filter((c) => !classes.has(c)),
    missingEmbolics: EMBOLICS.filter((e) => !agents.has(e)),
    invalid: panel
      .filter((e) => !isValidProtocol(e.protocol) || e.protocol.drugs.length === 0 || e.protocol.embolics.length === 0)
      .map((e) => protocolKey(e.protocol)),
    duplicates: keys.filter((k, i) => keys.indexOf(k) !== i),
  };
}
