/**
 * Negation-aware report extraction (issue 11 item 5): an agent counts as given only when the
 * report says it was given in this procedure. Negated, uncertain and historical mentions are
 * left out of `drugs` / `embolics` (these labels feed training) and listed in `notGiven` with
 * the cue that decided. Each row: the report, the agents given, and the agents not given with
 * their status.
 */
import { describe, expect, it } from 'vitest';
import type { AgentId } from '../../src/core/vocabulary';
import { attenuationFromOutcome, extractReportByRules } from '../../src/policy/report-extraction';

type Row = {
  readonly text: string;
  readonly given: readonly AgentId[];
  readonly notGiven: Readonly<Partial<Record<AgentId, 'negated' | 'uncertain' | 'historical'>>>;
};

const NEGATED: readonly Row[] = [
  { text: 'Cisplatin 40 mg was infused through the catheter; NBCA was not used.', given: ['cisplatin'], notGiven: { nbca: 'negated' } },
  { text: 'Lipiodol 10 ml was injected; no gelatin sponge was needed.', given: ['lipiodol'], notGiven: { 'gelatin-sponge': 'negated' } },
  {
    text: 'Epirubicin 40 mg and Lipiodol 10 ml were mixed into an emulsion without PVA particles.',
    given: ['epirubicin', 'lipiodol'],
    notGiven: { pva: 'negated' },
  },
  { text: 'No PVA or NBCA was used; 5 ml Lipiodol was injected.', given: ['lipiodol'], notGiven: { pva: 'negated', nbca: 'negated' } },
  {
    text: 'Neither cisplatin nor oxaliplatin was given because of renal function; raltitrexed 4 mg was infused.',
    given: ['raltitrexed'],
    notGiven: { cisplatin: 'negated', oxaliplatin: 'negated' },
  },
  { text: 'Gelatin sponge particles were used instead of PVA.', given: ['gelatin-sponge'], notGiven: { pva: 'negated' } },
  { text: 'Doxorubicin was withheld; oxaliplatin 100 mg was infused.', given: ['oxaliplatin'], notGiven: { doxorubicin: 'negated' } },
  { text: 'It was decided not to use NBCA; gelfoam was used to embolize the feeder.', given: ['gelatin-sponge'], notGiven: { nbca: 'negated' } },
  { text: 'Lipiodol deposition was not satisfactory, so gelatin sponge was added.', given: ['lipiodol', 'gelatin-sponge'], notGiven: {} },
  { text: 'Cisplatin 40 mg was infused but not epirubicin.', given: ['cisplatin'], notGiven: { epirubicin: 'negated' } },
  { text: 'Absolute alcohol was contraindicated; 10 ml lipiodol was injected.', given: ['lipiodol'], notGiven: { 'absolute-alcohol': 'negated' } },
  { text: 'Glue (1 ml) was not injected, the shunt being small; PVA was used.', given: ['pva'], notGiven: { nbca: 'negated' } },
];

const UNCERTAIN: readonly Row[] = [
  { text: 'Lipiodol 10 ml was injected; PVA may be used at the next session.', given: ['lipiodol'], notGiven: { pva: 'uncertain' } },
  { text: 'Epirubicin 40 mg was infused; drug-eluting beads were considered.', given: ['epirubicin'], notGiven: { 'drug-eluting-beads': 'uncertain' } },
  { text: 'Possible NBCA embolization of the shunt if needed; lipiodol 8 ml was injected.', given: ['lipiodol'], notGiven: { nbca: 'uncertain' } },
  { text: 'Raltitrexed 4 mg was infused; oxaliplatin is planned for the next TACE.', given: ['raltitrexed'], notGiven: { oxaliplatin: 'uncertain' } },
  { text: 'Cisplatin 40 mg was infused; gelatin sponge?', given: ['cisplatin'], notGiven: { 'gelatin-sponge': 'uncertain' } },
];

const HISTORICAL: readonly Row[] = [
  {
    text: 'Previous TACE with epirubicin and lipiodol; this session cisplatin 40 mg was infused and 6 ml lipiodol injected.',
    given: ['cisplatin', 'lipiodol'],
    notGiven: { epirubicin: 'historical', lipiodol: 'historical' },
  },
  { text: 'At the previous session, PVA particles were used; gelatin sponge was used today.', given: ['gelatin-sponge'], notGiven: { pva: 'historical' } },
  { text: 'Oxaliplatin was given 3 months ago; raltitrexed 4 mg was infused.', given: ['raltitrexed'], notGiven: { oxaliplatin: 'historical' } },
  { text: 'History of NBCA embolization in 2019; lipiodol 10 ml was injected.', given: ['lipiodol'], notGiven: { nbca: 'historical' } },
  {
    text: 'Retained lipiodol from the prior TACE was seen; epirubicin 30 mg was infused with gelatin sponge.',
    given: ['epirubicin', 'gelatin-sponge'],
    notGiven: { lipiodol: 'historical' },
  },
];

function check(row: Row): void {
  const e = extractReportByRules(row.text);
  const given = [...e.drugs, ...e.embolics].map((a) => a.agent).sort();
  expect(given, row.text).toEqual([...row.given].sort());
  const notGiven = Object.fromEntries((e.notGiven ?? []).map((m) => [m.agent, m.status]));
  expect(notGiven, row.text).toEqual(row.notGiven);
  for (const m of e.notGiven ?? []) expect(m.cue.length, `cue of ${m.agent}`).toBeGreaterThan(0);
}

describe('negation-aware rule extraction', () => {
  it.each(NEGATED)('negated: $text', check);
  it.each(UNCERTAIN)('uncertain: $text', check);
  it.each(HISTORICAL)('historical: $text', check);

  it('does not count the dose of a negated mention towards a given one', () => {
    const e = extractReportByRules('Epirubicin 40 mg was infused; epirubicin 20 mg was not given as planned.');
    expect(e.drugs).toEqual([expect.objectContaining({ agent: 'epirubicin', dose: 40, unit: 'mg' })]);
    expect(e.notGiven).toEqual([expect.objectContaining({ agent: 'epirubicin', status: 'negated' })]);
  });

  it('reads "no tumour staining" as an outcome, not a negated agent, and skips a negated outcome phrase', () => {
    const e = extractReportByRules('Lipiodol 10 ml was injected; no tumor staining was observed on the final angiography.');
    expect(e.embolics.map((a) => a.agent)).toEqual(['lipiodol']);
    expect(e.attenuationLevel).toBe(4);
    expect(attenuationFromOutcome('Lipiodol 10 ml was injected; tumor staining was not markedly reduced on the final angiography.')).toBeUndefined();
    expect(attenuationFromOutcome('Lipiodol 10 ml was injected; tumor staining did not disappear; tumor staining was partially reduced.')?.level).toBe(1);
  });
});
