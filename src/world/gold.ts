/**
 * Gold actions of the synthetic world: the rule-valid protocol (at most `maxDrugs` drugs and
 * `maxEmbolics` embolics, at least one of each) with the lowest true expected risk.
 */
import { protocolKey, validProtocols, type Protocol } from '../core/vocabulary';
import type { Phenotype } from './phenotype';
import { expectedRisk } from './survival';

export interface Horizons {
  readonly maxDrugs: number;
  readonly maxEmbolics: number;
}

export const DEFAULT_HORIZONS: Horizons = { maxDrugs: 2, maxEmbolics: 2 };

const protocolCache = new Map<string, Protocol[]>();

/** `validProtocols` memoised per horizon pair (1,235 protocols for Hd = He = 2). */
export function candidateProtocols(horizons: Horizons = DEFAULT_HORIZONS): Protocol[] {
  const key = `${horizons.maxDrugs}/${horizons.maxEmbolics}`;
  let protocols = protocolCache.get(key);
  if (!protocols) {
    protocols = validProtocols(horizons.maxDrugs, horizons.maxEmbolics);
    protocolCache.set(key, protocols);
  }
  return protocols;
}

export interface RiskedProtocol {
  readonly protocol: Protocol;
  readonly key: string;
  readonly risk: number;
}

/** Expected risk of every candidate protocol, best (lowest) first; ties broken by key. */
export function rankProtocols(phenotype: Phenotype, horizons: Horizons = DEFAULT_HORIZONS): RiskedProtocol[] {
  return candidateProtocols(horizons)
    .map((protocol) => ({ protocol, key: protocolKey(protocol), risk: expectedRisk(phenotype, protocol) }))
    .sort((a, b) => a.risk - b.risk || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

export function goldProtocol(phenotype: Phenotype, horizons: Horizons = DEFAULT_HORIZONS): RiskedProtocol {
  return rankProtocols(phenotype, horizons)[0]!;
}
