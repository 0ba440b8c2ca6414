import { describe, expect, it } from 'vitest';
import { deriveSeed, Rng } from '../../src/core/random';
import { protocolAgents, validProtocols, type AgentId, type Protocol } from '../../src/core/vocabulary';
import { attenuationFromOutcome, extractReportByRules, findAgentMentions } from '../../src/policy/report-extraction';
import { generatePatientTruth } from '../../src/world/cohort';
import { generateReport, type GeneratedReport } from '../../src/world/reports';
import { responseDrawsForSeed, responseState } from '../../src/world/response';

/** The paper's Table 5 reports, verbatim, with what they say. */
const TABLE_5: ReadonlyArray<{ text: string; agents: AgentId[]; level: number; doses: Partial<Record<AgentId, number>> }> = [
  {
    text: 'Raltitrexed 4 mg was infused through the catheter; 5 ml ultra-liquid Lipiodol and 5 mg Epirubicin were mixed to create an emulsion for embolization; the emulsion was slowly injected under fluoroscopic guidance; an appropriate amount of Gelatin Sponge particles was used to embolize the tumor-feeding branches of the S8 segment of the right hepatic artery; Lipiodol deposition in the tumor was satisfactory; tumor-feeding arteries were occluded on the final angiography.',
    agents: ['raltitrexed', 'epirubicin', 'lipiodol', 'gelatin-sponge'],
    level: 3,
    doses: { raltitrexed: 4, epirubicin: 5, lipiodol: 5 },
  },
  {
    text: 'THP 10 mg was infused through the catheter; 10 mg THP and 10 ml ultra-liquid Lipiodol were mixed to create an emulsion for embolization; 12 ml of the emulsion was slowly injected under fluoroscopic guidance; Lipiodol deposition in the tumor and satellite lesions was satisfactory; tumor-feeding arteries were occluded on the final angiography.',
    agents: ['pirarubicin', 'lipiodol'],
    level: 3,
    doses: { pirarubicin: 20, lipiodol: 10 },
  },
  {
    text: 'THP 40 mg and 30 ml ultra-liquid Lipiodol, along with a small amount of contrast agent, were mixed to create an emulsion for embolization; 30 ml of the emulsion was slowly injected under fluoroscopic guidance; a small amount of Gelatin Sponge particles was used for embolization; Lipiodol deposition in the tumor was satisfactory; no tumor staining was observed on the final angiography.',
    agents: ['pirarubicin', 'lipiodol', 'gelatin-sponge'],
    level: 4,
    doses: { pirarubicin: 40, lipiodol: 30 },
  },
  {
    text: 'Cisplatin 40 mg was infused through the catheter; 10 ml ultra-liquid Lipiodol was slowly injected under fluoroscopic guidance for embolization of the right hepatic artery tumor-feeding branches; 3 ml ultra-liquid Lipiodol was injected for protective embolization of the segment II branch of the left hepatic artery; Lipiodol deposition in the tumor was acceptable; tumor staining mostly disappeared on the final angiography.',
    agents: ['cisplatin', 'lipiodol'],
    level: 3,
    doses: { cisplatin: 40, lipiodol: 13 },
  },
  {
    text: 'Oxaliplatin 100 mg and Epirubicin 30 mg were infused through the catheter; 10 mg Epirubicin and 10 ml ultra-liquid Lipiodol were mixed to create an emulsion for embolization; 10 ml of the emulsion was slowly injected under fluoroscopic guidance; an appropriate amount of Gelatin Sponge particles was used to embolize the tumor-feeding branches of the right hepatic artery; Lipiodol deposition in the tumor was satisfactory; tumor staining disappeared on the final angiography.',
    agents: ['oxaliplatin', 'epirubicin', 'lipiodol', 'gelatin-sponge'],
    level: 4,
    doses: { oxaliplatin: 100, epirubicin: 40, lipiodol: 10 },
  },
  {
    text: 'Epirubicin 40 mg and Oxaliplatin 100 mg were infused through the catheter; 10 ml ultra-liquid Lipiodol was slowly injected under fluoroscopic guidance for embolization; Lipiodol deposition in the tumor was satisfactory; tumor-feeding arteries were mostly occluded on the final angiography.',
    agents: ['epirubicin', 'oxaliplatin', 'lipiodol'],
    level: 2,
    doses: { epirubicin: 40, oxaliplatin: 100, lipiodol: 10 },
  },
];

describe('rule-based report extraction', () => {
  it.each(TABLE_5.map((r, i) => ({ ...r, i })))('reads Table 5 report $i: agents, doses, outcome', ({ text, agents, level, doses }) => {
    const e = extractReportByRules(text);
    expect([...e.drugs, ...e.embolics].map((a) => a.agent).sort()).toEqual([...agents].sort());
    expect(e.attenuationLevel).toBe(level);
    for (const [agent, dose] of Object.entries(doses)) {
      expect([...e.drugs, ...e.embolics].find((a) => a.agent === agent)?.dose, agent).toBe(dose);
    }
  });

  it.each([
    ['tumor staining was partially reduced on the final angiography.', 1],
    ['residual tumour staining was observed on the final angiography.', 1],
    ['tumor-feeding arteries were partially occluded on the final angiography.', 1],
    ['tumor staining was reduced on the final angiography.', 1],
    ['tumor staining was markedly reduced on the final angiography.', 2],
    ['tumor-feeding arteries were largely occluded on the final angiography.', 2],
    ['tumour staining largely disappeared on the final angiography.', 3],
    ['tumor staining completely disappeared on the final angiography.', 4],
  ])('reads the outcome %j as level %i', (text, level) => {
    expect(attenuationFromOutcome(`Cisplatin 40 mg was infused through the catheter; ${text}`)?.level).toBe(level);
  });

  it('reports no level when no outcome is stated, rather than guessing', () => {
    const e = extractReportByRules('Cisplatin 40 mg was infused through the catheter; Lipiodol deposition in the tumor was satisfactory.');
    expect(e.attenuationLevel).toBeUndefined();
  });

  it('finds synonyms, abbreviations and a swapped-letter typo, but no agents in prose', () => {
    const text =
      'L-OHP 100 mg and Pharmorubicin 30 mg were infused through the cathether; 1 vial of CalliSpheres (100-300 μm) loaded with 40 mg Epirbuicin was slowly delivered; 3 ml absolute ethanol was injected into the tumour-feeding artery; NBCA (1 ml) was used to occlude the tumor-feeding artery.';
    expect(findAgentMentions(text).map((m) => m.agent)).toEqual(['oxaliplatin', 'epirubicin', 'drug-eluting-beads', 'epirubicin', 'absolute-alcohol', 'nbca']);
    const e = extractReportByRules(text);
    expect(e.embolics.find((x) => x.agent === 'drug-eluting-beads')).toMatchObject({ dose: 1, unit: 'vial' });
    expect(e.embolics.find((x) => x.agent === 'nbca')).toMatchObject({ dose: 1, unit: 'ml' });
    expect(e.drugs.find((x) => x.agent === 'epirubicin')).toMatchObject({ dose: 70, unit: 'mg' });
  });
});

/** 500 reports of the synthetic world: the physicians' protocols plus random valid protocols (all agents occur). */
function worldReports(count: number): GeneratedReport[] {
  const seed = 4242;
  const rng = new Rng(seed);
  const protocols = validProtocols(3, 2);
  const reports: GeneratedReport[] = [];
  for (let index = 1; index <= count; index++) {
    const truth = generatePatientTruth(seed, index);
    const protocol: Protocol = index % 2 === 0 ? truth.physician : rng.pick(protocols);
    const state = responseState(truth.phenotype, protocol, responseDrawsForSeed(truth.phenotype, deriveSeed(truth.patientSeed, 'treatment')));
    reports.push(generateReport({ phenotype: truth.phenotype, protocol, state, seed: truth.patientSeed }));
  }
  return reports;
}

describe('rule-based extractor accuracy on the synthetic world (500 reports)', () => {
  it('keyword precision and recall ≥ 0.98, attenuation accuracy ≥ 0.95, dose accuracy ≥ 0.95', () => {
    const reports = worldReports(500);
    let tp = 0;
    let fp = 0;
    let fn = 0;
    let levelsRight = 0;
    let dosesChecked = 0;
    let dosesRight = 0;
    const misses: string[] = [];
    for (const report of reports) {
      const e = extractReportByRules(report.text);
      const found = new Set<AgentId>([...e.drugs, ...e.embolics].map((a) => a.agent));
      const truth = new Set<AgentId>(protocolAgents(report.protocol));
      for (const a of found) (truth.has(a) ? tp++ : fp++) || undefined;
      for (const a of truth)
        if (!found.has(a)) {
          fn++;
          if (misses.length < 5) misses.push(`missed ${a} in: ${report.text}`);
        }
      for (const a of found) if (!truth.has(a) && misses.length < 5) misses.push(`spurious ${a} in: ${report.text}`);
      if (e.attenuationLevel === report.attenuationLevel) levelsRight++;
      else if (misses.length < 5) misses.push(`level ${e.attenuationLevel} vs ${report.attenuationLevel}: ${report.text}`);
      const stated = new Map<AgentId, { total: number; unit: string }>();
      for (const m of report.mentions) {
        if (!m.dose) continue;
        const [value, unit] = m.dose.split(' ');
        const prev = stated.get(m.agent);
        stated.set(m.agent, { total: (prev?.total ?? 0) + Number(value), unit: unit!.replace(/s$/, '') });
      }
      for (const [agent, { total, unit }] of stated) {
        dosesChecked++;
        const got = [...e.drugs, ...e.embolics].find((x) => x.agent === agent);
        if (got?.dose !== undefined && Math.abs(got.dose - total) < 1e-9 && got.unit === unit) dosesRight++;
        else if (misses.length < 5) misses.push(`dose ${agent} ${got?.dose} ${got?.unit} vs ${total} ${unit}: ${report.text}`);
      }
    }
    const precision = tp / (tp + fp);
    const recall = tp / (tp + fn);
    const levelAccuracy = levelsRight / reports.length;
    const doseAccuracy = dosesRight / dosesChecked;
    console.log(JSON.stringify({ reports: reports.length, precision, recall, levelAccuracy, doseAccuracy, dosesChecked }), misses.join('\n'));
    expect(precision).toBeGreaterThanOrEqual(0.98);
    expect(recall).toBeGreaterThanOrEqual(0.98);
    expect(levelAccuracy).toBeGreaterThanOrEqual(0.95);
    expect(doseAccuracy).toBeGreaterThanOrEqual(0.95);
    // Fuzzy name matching makes this ~0.1 s per report: allow for a loaded 2-core machine.
  }, 300_000);
});
