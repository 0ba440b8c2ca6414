/**
 * Versioned prompt templates: `src/policy/prompts/<id>.<version>.md`, each starting with
 * `<!-- prompt: <id> | version: <version> -->` and split into `=== system ===` and `=== user ===`
 * parts. Placeholders are `{{name}}`; rendering fails on a missing or unused-in-template value so a
 * template edit cannot silently drop context. The key `<id>.<version>` goes into the audit record.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MewmError } from '../core/errors';

export type PromptId = 'propose' | 'refine' | 'protocol-baseline' | 'extract-report';

/** The template version each caller uses today; bump here when a new template file lands. */
export const CURRENT_PROMPT_VERSIONS: Readonly<Record<PromptId, string>> = {
  propose: 'v1',
  refine: 'v1',
  'protocol-baseline': 'v1',
  'extract-report': 'v2',
};

export interface PromptTemplate {
  readonly id: PromptId;
  readonly version: string;
  /** `<id>.<version>`, e.g. `propose.v1`. */
  readonly key: string;
  readonly system: string;
  readonly user: string;
}

export interface RenderedPrompt {
  readonly key: string;
  readonly system: string;
  readonly user: string;
}

const HEADER = /^<!--\s*prompt:\s*([a-z-]+)\s*\|\s*version:\s*(v\d+)\s*-->\s*\n/;
const cache = new Map<string, PromptTemplate>();

export function parsePromptTemplate(text: string, source: string): PromptTemplate {
  const header = HEADER.exec(text);
  if (!header) throw new MewmError('InvalidConfig', `prompt template ${source} lacks its "<!-- prompt: id | version: vN -->" header`, { source });
  const body = text.slice(header[0].length);
  const systemAt = body.indexOf('=== system ===');
  const userAt = body.indexOf('=== user ===');
  if (systemAt < 0 || userAt < systemAt)
    throw new MewmError('InvalidConfig', `prompt template ${source} needs "=== system ===" then "=== user ===" sections`, { source });
  const id = header[1] as PromptId;
  if (!(id in CURRENT_PROMPT_VERSIONS)) throw new MewmError('InvalidConfig', `prompt template ${source} has unknown id "${id}"`, { source });
  return {
    id,
    version: header[2]!,
    key: `${id}.${header[2]!}`,
    system: body.slice(systemAt + '=== system ==='.length, userAt).trim(),
    user: body.slice(userAt + '=== user ==='.length).trim(),
  };
}

export function loadPrompt(id: PromptId, version: string = CURRENT_PROMPT_VERSIONS[id]): PromptTemplate {
  const key = `${id}.${version}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const path = fileURLToPath(new URL(`./prompts/${key}.md`, import.meta.url));
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new MewmError('InvalidConfig', `prompt template ${key}.md not found in src/policy/prompts`, { key }, { cause: error });
  }
  const template = parsePromptTemplate(text, `${key}.md`);
  if (template.id !== id || template.version !== version) {
    throw new MewmError('InvalidConfig', `prompt file ${key}.md declares ${template.key} in its header`, { key });
  }
  cache.set(key, template);
  return template;
}

function fill(part: string, values: Readonly<Record<string, string | number>>, key: string, used: Set<string>): string {
  return part.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new MewmError('InvalidConfig', `prompt ${key} needs a value for {{${name}}}`, { key, placeholder: name });
    used.add(name);
    return String(value);
  });
}

export function renderPrompt(template: PromptTemplate, values: Readonly<Record<string, string | number>>): RenderedPrompt {
  const used = new Set<string>();
  const system = fill(template.system, values, template.key, used);
  const user = fill(template.user, values, template.key, used);
  const unused = Object.keys(values).filter((k) => !used.has(k));
  if (unused.length > 0)
    throw new MewmError('InvalidConfig', `prompt ${template.key} has no placeholder for ${unused.join(', ')}`, { key: template.key, unused });
  return { key: template.key, system, user };
}
