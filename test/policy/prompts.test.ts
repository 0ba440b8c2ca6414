import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CURRENT_PROMPT_VERSIONS, loadPrompt, parsePromptTemplate, renderPrompt, type PromptId } from '../../src/policy/prompts';

describe('versioned prompt templates', () => {
  it('every current template loads, and its header matches its file name', () => {
    for (const [id, version] of Object.entries(CURRENT_PROMPT_VERSIONS)) {
      const t = loadPrompt(id as PromptId);
      expect(t.key).toBe(`${id}.${version}`);
      expect(t.system.length).toBeGreaterThan(100);
      expect(t.user.length).toBeGreaterThan(5);
    }
  });

  it('every file in the prompts folder is a well-formed template', () => {
    const dir = fileURLToPath(new URL('../../src/policy/prompts/', import.meta.url));
    const files = readdirSync(dir).filter((f) => f.endsWith('.md'));
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const file of files) {
      const [id, version] = file.replace(/\.md$/, '').split(/\.(?=v\d+$)/);
      expect(loadPrompt(id as PromptId, version).key).toBe(file.replace(/\.md$/, ''));
    }
  });

  it('renders placeholders and refuses missing or unused values', () => {
    const t = parsePromptTemplate('<!-- prompt: refine | version: v9 -->\n=== system ===\nRules: {{rules}}\n=== user ===\nGoal: {{goal}}', 'test');
    expect(renderPrompt(t, { rules: 'R', goal: 'G' })).toEqual({ key: 'refine.v9', system: 'Rules: R', user: 'Goal: G' });
    expect(() => renderPrompt(t, { rules: 'R' })).toThrow(/\{\{goal\}\}/);
    expect(() => renderPrompt(t, { rules: 'R', goal: 'G', extra: 'x' })).toThrow(/no placeholder for extra/);
  });

  it('rejects a template without header or sections, and an unknown version', () => {
    expect(() => parsePromptTemplate('=== system ===\nx\n=== user ===\ny', 'bad')).toThrow(/header/);
    expect(() => parsePromptTemplate('<!-- prompt: propose | version: v1 -->\njust text', 'bad')).toThrow(/sections/);
    expect(() => loadPrompt('propose', 'v99')).toThrow(/propose\.v99\.md not found/);
  });
});
