/**
 * The guideline policy: a deterministic, offline policy built from published TACE practice.
 * It scores every agent of the vocabulary from the tumour observation and returns the top D
 * drugs and top E embolics (after the clinical rules). Sources and reasoning: docs/policy.md.
 *
 * Inputs used: largest diameter (mm), tumour count, tumour burden (fraction of liver volume),
 * arterial enhancement (tumour − liver HU) and heterogeneity (coefficient of variation of HU).
 */
import { DRUGS, EMBOLICS, isDrug, type AgentId, type DrugId, type EmbolicId } from '../core/vocabulary';
import type { ActionPolicy, ActionProposal, PolicyIdentity, ProposalRequest, TumourObservation } from './policy';
import { enforceClinicalRules } from './refine';
import { MewmError } from '../core/errors';

export const GUIDELINE_POLICY_VERSION = 'guideline-2026.1';

/** Clinical bands the scores react to; thresholds as used in the cited guidelines. */
export interface TumourBands {
  /** ≤ 30 mm single nodule (BCLC 0/A ablation-range lesion treated by TACE). */
  readonly small: boolean;
  /** > 50 mm: "large" HCC, where DEB-TACE and combined cytotoxics are favoured. */
  readonly large: boolean;
  /** > 100 mm or burden > 50 %: "huge" / high burden; temporary embolics, less aggressive embolisation. */
  readonly huge: boolean;
  /** ≥ 4 nodules or bilobar: multinodular disease (BCLC B beyond up-to-7 territory). */
  readonly multinodular: boolean;
  /** Tumour − liver ≥ 20 HU on the (arterial-like) pre-CT: hypervascular. */
  readonly hypervascular: boolean;
  /** Tumour − liver < 5 HU: hypo/isovascular; poor Lipiodol uptake expected. */
  readonly hypovascular: boolean;
  /** Coefficient of variation > 0.25: heterogeneous, necrotic component likely. */
  readonly heterogeneous: boolean;
}

export function tumourBands(o: TumourObservation): TumourBands {
  return {
    small: o.largestDiameterMm <= 30 && o.tumourCount === 1,
    large: o.largestDiameterMm > 50,
    huge: o.largestDiameterMm > 100 || o.tumourBurden > 0.5,
    multinodular: o.tumourCount >= 4 || o.location === 'bilobar',
    hypervascular: o.enhancementHu >= 20,
    hypovascular: o.enhancementHu < 5,
    heterogeneous: o.heterogeneity > 0.25,
  };
}

/**
 * Prior preference of each agent in conventional TACE for HCC (how often guidelines and large
 * series name it), in [0, 1]. Agents listed first win ties.
 */
const DRUG_PRIOR: Readonly<Record<DrugId, number>> = {
  epirubicin: 0.8,
  pirarubicin: 0.78,
  raltitrexed: 0.75,
  lobaplatin: 0.72,
  oxaliplatin: 0.7,
  cisplatin: 0.66,
  doxorubicin: 0.64,
  idarubicin: 0.5,
  fluorouracil: 0.45,
  mitomycin: 0.42,
  hydroxycamptothecin: 0.36,
  nedaplatin: 0.34,
};

const EMBOLIC_PRIOR: Readonly<Record<EmbolicId, number>> = {
  lipiodol: 1.0,
  'gelatin-sponge': 0.85,
  'drug-eluting-beads': 0.5,
  pva: 0.38,
  'absolute-alcohol': 0.15,
  nbca: 0.1,
};

export interface ScoredAgent<Id extends AgentId> {
  readonly agent: Id;
  readonly score: number;
  readonly reasons: readonly string[];
}

export function scoreDrugs(b: TumourBands): ScoredAgent<DrugId>[] {
  return DRUGS.map((agent) => {
    let score = DRUG_PRIOR[agent];
    const reasons: string[] = [];
    const bump = (delta: number, why: string) => {
      score += delta;
      reasons.push(why);
    };
    const anthracycline = agent === 'epirubicin' || agent === 'pirarubicin' || agent === 'doxorubicin' || agent === 'idarubicin';
    const platinum = agent === 'lobaplatin' || agent === 'oxaliplatin' || agent === 'cisplatin' || agent === 'nedaplatin';
    if (b.small && anthracycline) bump(0.1, 'small solitary lesion: anthracycline-Lipiodol emulsion is the cTACE standard');
    if (b.large && platinum) bump(0.12, 'large lesion: platinum added for combination chemotherapy');
    if (b.large && b.hypervascular && agent === 'idarubicin')
      bump(0.35, 'large hypervascular lesion: idarubicin has the highest in-vitro cytotoxicity against HCC lines');
    if (b.large && agent === 'doxorubicin') bump(0.06, 'large lesion: doxorubicin loads onto drug-eluting beads');
    if (b.multinodular && agent === 'raltitrexed') bump(0.12, 'multinodular disease: raltitrexed has low hepatotoxicity at repeated sessions');
    if (b.multinodular && agent === 'oxaliplatin') bump(0.08, 'multinodular disease: oxaliplatin regimens (as in FOLFOX-HAIC) for diffuse burden');
    if (b.hypovascular && (agent === 'raltitrexed' || agent === 'oxaliplatin' || agent === 'fluorouracil'))
      bump(0.1, 'hypovascular lesion: drugs that do not depend on Lipiodol retention');
    if (b.hypovascular && anthracycline) bump(-0.08, 'hypovascular lesion: poor Lipiodol-emulsion uptake');
    if (b.huge && agent === 'cisplatin') bump(-0.1, 'high burden: avoid cisplatin nephrotoxicity at high doses');
    return { agent, score, reasons };
  }).sort((x, y) => y.score - x.score);
}

export function scoreEmbolics(b: TumourBands): ScoredAgent<EmbolicId>[] {
  return EMBOLICS.map((agent) => {
    let score = EMBOLIC_PRIOR[agent];
    const reasons: string[] = [];
    const bump = (delta: number, why: string) => {
      score += delta;
      reasons.push(why);
    };
    if (b.hypovascular && agent === 'lipiodol') bump(-0.25, 'hypovascular lesion: Lipiodol deposition expected to be poor');
    if (b.large && b.hypervascular && agent === 'drug-eluting-beads')
      bump(0.3, 'large hypervascular lesion: DEB-TACE (calibrated beads, sustained drug release)');
    if (b.large && b.hypervascular && agent === 'pva') bump(0.2, 'large hypervascular lesion: permanent particles for high-flow feeders');
    if (b.heterogeneous && agent === 'gelatin-sponge') bump(0.08, 'heterogeneous lesion: particle occlusion of residual feeders after Lipiodol');
    if (b.huge && (agent === 'drug-eluting-beads' || agent === 'pva')) bump(-0.25, 'high burden: prefer temporary embolisation to preserve liver function');
    if (b.huge && agent === 'gelatin-sponge') bump(0.1, 'high burden: temporary occlusion allows repeat sessions');
    if (b.multinodular && agent === 'drug-eluting-beads') bump(-0.1, 'multinodular disease: cTACE covers many small nodules better than beads');
    return { agent, score, reasons };
  }).sort((x, y) => y.score - x.score);
}

/** The deterministic policy: same observation, same proposal; no network. */
export class GuidelinePolicy implements ActionPolicy {
  readonly identity: PolicyIdentity = { name: 'guideline', version: GUIDELINE_POLICY_VERSION };

  async propose(request: ProposalRequest): Promise<ActionProposal> {
    return this.proposeSync(request);
  }

  proposeSync(request: ProposalRequest): ActionProposal {
    if (!Number.isInteger(request.drugCount) || request.drugCount < 1 || !Number.isInteger(request.embolicCount) || request.embolicCount < 1) {
      throw new MewmError('InvalidInput', `case ${request.caseId}: drugCount and embolicCount must be positive integers`, { caseId: request.caseId });
    }
    const bands = tumourBands(request.observation);
    const drugs = scoreDrugs(bands);
    const embolics = scoreEmbolics(bands);
    const enforced = enforceClinicalRules(
      drugs.map((d) => d.agent),
      embolics.map((e) => e.agent),
    );
    const keptDrugs = enforced.drugs.slice(0, request.drugCount);
    const keptEmbolics = enforced.embolics.slice(0, request.embolicCount);
    // Only removals that changed the returned sets belong in the audit: an agent ranked below
    // the last one kept would not have been proposed even without the rule.
    const rank = (agent: AgentId, ranked: readonly ScoredAgent<AgentId>[]) => ranked.findIndex((r) => r.agent === agent);
    const lastKeptRank = (kept: readonly AgentId[], ranked: readonly ScoredAgent<AgentId>[], count: number) =>
      kept.length < count ? Infinity : Math.max(...kept.map((a) => rank(a, ranked)));
    const drugLimit = lastKeptRank(keptDrugs, drugs, request.drugCount);
    const embolicLimit = lastKeptRank(keptEmbolics, embolics, request.embolicCount);
    const removals = enforced.removals.filter((r) => (isDrug(r.agent) ? rank(r.agent, drugs) < drugLimit : rank(r.agent, embolics) < embolicLimit));
    const reasonsFor = (agents: readonly AgentId[], scored: readonly ScoredAgent<AgentId>[]) =>
      agents.flatMap((a) => scored.find((s) => s.agent === a)?.reasons ?? []);
    const reasons = [...new Set([...reasonsFor(keptDrugs, drugs), ...reasonsFor(keptEmbolics, embolics)])];
    const bandNames = Object.entries(bands)
      .filter(([, on]) => on)
      .map(([name]) => name);
    return {
      drugs: keptDrugs,
      embolics: keptEmbolics,
      rationale: `Guideline policy (${GUIDELINE_POLICY_VERSION}); bands: ${bandNames.length > 0 ? bandNames.join(', ') : 'intermediate'}. ${reasons.length > 0 ? reasons.join('; ') + '.' : 'Conventional TACE defaults by prior preference.'}`,
      removals,
      policy: this.identity,
    };
  }
}
