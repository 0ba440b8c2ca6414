import { describe, expect, it } from 'vitest';
import { isMewmError } from '../../../src/core/errors';
import type { ManifestFor } from '../../../src/models/manifest';
import { actionTensors } from '../../../src/models/onnx/world-model';

const manifest = {
  name: 'fixture',
  action: { agents: ['cisplatin', 'epirubicin', 'lipiodol', 'gelatin-sponge'], maxAgents: 3, textFeatureFile: 'x', textFeatureSha256: '0'.repeat(64), textEncoder: 'fixture' },
} as unknown as ManifestFor<'dynamics'>;
const table = { dim: 2, features: { cisplatin: [1, 0], epirubicin: [0, 1], lipiodol: [0.5, 0.5], 'gelatin-sponge': [-1, 0] } };

describe('actionTensors (Eq. 1 inputs)', () => {
  it('multi-hot concepts in manifest order and text rows in canonical vocabulary order', () => {
    const t = actionTensors({ drugs: ['epirubicin', 'cisplatin'], embolics: ['lipiodol'] }, manifest, table);
    expect([...t.concepts]).toEqual([1, 1, 1, 0]);
    expect([...t.text]).toEqual([1, 0, 0, 1, 0.5, 0.5]);
    expect([...t.mask]).toEqual([1, 1, 1]);
  });

  it('pads unused agent slots with zeros', () => {
    const t = actionTensors({ drugs: [], embolics: ['gelatin-sponge'] }, manifest, table);
    expect([...t.text]).toEqual([-1, 0, 0, 0, 0, 0]);
    expect([...t.mask]).toEqual([1, 0, 0]);
  });

  it('rejects agents the model was not trained on and combos longer than maxAgents', () => {
    expect(() => actionTensors({ drugs: ['oxaliplatin'], embolics: [] }, manifest, table)).toThrow(expect.objectContaining({ code: 'UnknownAction' }));
    try {
      actionTensors({ drugs: ['cisplatin', 'epirubicin'], embolics: ['lipiodol', 'gelatin-sponge'] }, manifest, table);
      expect.unreachable();
    } catch (e) {
      expect(isMewmError(e, 'InvalidInput')).toBe(true);
    }
  });
});
