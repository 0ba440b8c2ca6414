/**
 * Whether an agent mention in a TACE report says the agent was *given in this procedure*, in the
 * spirit of NegEx (Chapman et al., J Biomed Inform 2001): trigger phrases before or after a
 * mention, a scope that ends at clause boundaries and contrast words, and one scope shared by a
 * coordinated list ("No PVA or NBCA was used" negates both).
 *
 *   given       "NBCA (1 ml) was used to occlude the feeder"
 *   negated     "NBCA was not used", "no gelatin sponge", "Lipiodol without PVA", "instead of PVA"
 *   uncertain   "PVA may be used at the next session", "possible NBCA", "DEB considered"
 *   historical  "previous TACE with epirubicin", "cisplatin was given 3 months ago"
 *
 * Only `given` mentions count as the agent administered (these labels feed training); the others
 * are reported with the cue that decided, so a reader can check. Triggers are a small hand-made
 * list for procedure-report English, tested on the cases in test/policy/report-negation.test.ts;
 * they are not a clinical NLP system.
 */

export type MentionStatus = 'given' | 'negated' | 'uncertain' | 'historical';

export interface Span {
  readonly start: number;
  readonly end: number;
}

export interface MentionContext {
  readonly status: MentionStatus;
  /** The trigger phrase that decided, as written (absent for `given`). */
  readonly cue?: string;
}

/** Clause boundaries: a mention's scope never crosses them. */
const CLAUSE_END = /[;:\n]|\.(?=\s|$)/g;
/** Words that end a trigger's scope inside a clause ("No PVA was needed, but NBCA was injected"). */
const SCOPE_BREAK = /,|\b(?:and|but|however|although|though|whereas|while|except|then|after|followed by|which|where|so|therefore|thus|hence|because|since)\b/gi;
/** Between two mentions of one coordinated list: connectors, amounts, brackets, modifiers. */
const COORDINATION =
  /^(?:[\s,/&+]|\band\/or\b|\band\b|\bor\b|\bnor\b|\bplus\b|\bas well as\b|\bnor\b|\(\s*[^()]*\)|\d+(?:\.\d+)?\s*(?:mg|ml|vials?|cc)\b|\bof\b|\bultra[- ]liquid\b)*$/i;
/** How many words before a mention (after the last scope break) a pre-trigger may stand. */
const PRE_WINDOW_WORDS = 4;
/** A clause that opens in the past ("At the previous TACE, epirubicin was used") is historical throughout. */
const HISTORICAL_OPENER = /^\s*(?:at|during|in|on) (?:the )?(?:previous|prior|last|first|initial|earlier) (?:session|TACE|procedure|treatment|cycle)\b[^;]*/i;

const PRE_TRIGGERS: ReadonlyArray<readonly [MentionStatus, RegExp]> = [
  [
    'negated',
    /\b(?:no|not|without|never|neither|nor|none of|instead of|rather than|in place of|omit(?:ted)?|avoid(?:ed)?|withh(?:e|o)ld|declin(?:ed)?|refus(?:ed)?|contraindicat\w*|unavailab\w*|free of)\b/i,
  ],
  [
    'historical',
    /\b(?:previous(?:ly)?|prior|history of|formerly|earlier|had (?:received|undergone|been (?:treated|embolized|embolised) with)|last (?:session|time|procedure)|at the (?:first|initial) (?:session|procedure|TACE))\b/i,
  ],
  [
    'uncertain',
    /\b(?:possibl[ey]|probabl[ey]|perhaps|may|might|could|would|consider(?:ed|ing)?|plan(?:ned|s)? to|planned|propos(?:ed|e)|recommend(?:ed)?|suggest(?:ed)?|question(?:able)?|uncertain|unclear|whether|pending|if (?:needed|necessary|required)|to be (?:decided|considered|discussed))\b|\?/i,
  ],
];

/** Right after the mention (amounts and brackets allowed between): "NBCA was not used". */
const POST_NEGATION =
  /^(?:\s|\(\s*[^()]*\)|\d+(?:\.\d+)?\s*(?:mg|ml|vials?|cc)\b)*(?:(?:was|were|is|are|has been|have been|had been)\s+)?(?:(?:not|never)\s+(?:\w+\s+)?(?:used|given|administered|infused|injected|applied|employed|available|needed|required|performed|delivered|added|mixed|loaded)|(?:omitted|withheld|avoided|skipped|declined|refused|contraindicated|discontinued|cancell?ed|unavailable|not available))\b/i;
/** Anywhere before the next mention in the clause. */
const POST_TRIGGERS: ReadonlyArray<readonly [MentionStatus, RegExp]> = [
  [
    'historical',
    /\b(?:previously|(?:previous|prior|earlier|last|first|initial) (?:session|TACE|procedure|treatment|time|cycle)|\d+\s+(?:days?|weeks?|months?|years?)\s+ago|in (?:19|20)\d\d)\b/i,
  ],
  [
    'uncertain',
    /\b(?:(?:may|might|could|would|will|shall)\s+(?:be|have)|(?:was|is|were|are)\s+(?:considered|planned|proposed|recommended|suggested|discussed)|if (?:needed|necessary|required)|to be (?:considered|decided|discussed)|next (?:session|time|TACE|procedure)|pending)\b|\?/i,
  ],
];

function clauseOf(text: string, span: Span): Span {
  let start = 0;
  let end = text.length;
  for (const m of text.matchAll(CLAUSE_END)) {
    if (m.index < span.start) start = m.index + m[0].length;
    else if (m.index >= span.end) {
      end = m.index;
      break;
    }
  }
  return { start, end };
}

/** The part of `region` after its last scope break, limited to the last `words` words. */
function scopeTail(region: string, words: number): string {
  let cut = 0;
  for (const m of region.matchAll(SCOPE_BREAK)) cut = m.index + m[0].length;
  const tail = region.slice(cut);
  const tokens = tail
    .trim()
    .split(/\s+/)
    .filter((t) => t.length > 0);
  return tokens.slice(-words).join(' ');
}

/**
 * Groups mention spans (sorted, non-overlapping) into coordinated lists: consecutive mentions
 * with only connectors, amounts or brackets between them.
 */
export function coordinatedGroups(text: string, spans: readonly Span[]): number[][] {
  const groups: number[][] = [];
  spans.forEach((span, i) => {
    const last = groups[groups.length - 1];
    const previous = i > 0 ? spans[i - 1]! : undefined;
    if (last && previous && COORDINATION.test(text.slice(previous.end, span.start))) last.push(i);
    else groups.push([i]);
  });
  return groups;
}

/** The status of every mention span (sorted by position, non-overlapping), in the same order. */
export function mentionContexts(text: string, spans: readonly Span[]): MentionContext[] {
  const out: MentionContext[] = spans.map(() => ({ status: 'given' }));
  const groups = coordinatedGroups(text, spans);
  groups.forEach((group, g) => {
    const first = spans[group[0]!]!;
    const last = spans[group[group.length - 1]!]!;
    const clause = clauseOf(text, { start: first.start, end: last.end });
    const previousEnd = g > 0 ? spans[groups[g - 1]![groups[g - 1]!.length - 1]!]!.end : 0;
    const nextStart = g + 1 < groups.length ? spans[groups[g + 1]![0]!]!.start : text.length;
    const before = scopeTail(text.slice(Math.max(clause.start, previousEnd), first.start), PRE_WINDOW_WORDS);
    const after = text.slice(last.end, Math.min(clause.end, nextStart));
    let decided: MentionContext | undefined;
    const post = POST_NEGATION.exec(after);
    if (post) decided = { status: 'negated', cue: post[0].trim() };
    for (const [status, trigger] of PRE_TRIGGERS) {
      if (decided) break;
      const m = trigger.exec(before);
      if (m) decided = { status, cue: m[0] };
    }
    for (const [status, trigger] of POST_TRIGGERS) {
      if (decided) break;
      const m = trigger.exec(after);
      if (m) decided = { status, cue: m[0] };
    }
    const opener = decided ? null : HISTORICAL_OPENER.exec(text.slice(clause.start, first.start));
    if (opener) decided = { status: 'historical', cue: opener[0].trim().split(/\s+/).slice(0, 4).join(' ') };
    if (decided) for (const i of group) out[i] = decided;
  });
  return out;
}

/** True when the words just before `index` in its clause negate what follows ("not markedly reduced"). */
export function negatedAt(text: string, index: number): boolean {
  const clause = clauseOf(text, { start: index, end: index });
  const before = text.slice(clause.start, index).trim().split(/\s+/).slice(-3).join(' ');
  return /\b(?:not|no|never|without|neither|nor)\b/i.test(before);
}
