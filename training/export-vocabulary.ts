/**
 * Writes training/vocabulary.json from src/core/vocabulary.ts, the single owner of the action
 * base, so the Python trainer uses the same agent ids, names, classes and synonyms.
 * Run: `npx tsx training/export-vocabulary.ts`.
 */
import { writeFileSync } from 'node:fs';
import { DRUGS, EMBOLICS, agentInfo, phaseOf } from '../src/core/vocabulary';

const agents = [...DRUGS, ...EMBOLICS].map((id) => {
  const info = agentInfo(id);
  return { id, phase: phaseOf(id), displayName: info.displayName, agentClass: info.agentClass, typicalDose: info.typicalDose, doseUnit: info.doseUnit, synonyms: info.synonyms };
});
writeFileSync(new URL('./vocabulary.json', import.meta.url), `${JSON.stringify({ agents }, null, 2)}\n`);
