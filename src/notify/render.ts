// What every chat channel's renderer shares about the neutral message (notify/notification.ts): how much
// of each untrusted part to show, how a message over a channel's size limit is brought within it without
// failing (the trim ladder), and the words for what was left out. Each channel's own limits stay with it.
import { clip } from '../core/text';
import type { Context, Notification, Section, Table } from './notification';
import type { RenderOptions } from './provider';

/** Chat services refuse longer link URLs (Slack: 3,000 characters), counted after percent-encoding. */
export const MAX_URL_CHARS = 3000;

/**
 * The bounds of the parts no trim step shortens (our words, facts, links, the shape of the table): what a
 * builder writes is well within them; a message beyond them is brought within them here, so that every
 * channel's limits hold whatever a new kind of report sends.
 */
const BOUNDS = {
  headline: 200,
  summary: 300,
  lead: 1000,
  facts: 16,
  factTitle: 60,
  factValue: 150,
  sections: 10,
  /** Characters of a section, its label apart. */
  section: 3000,
  label: 60,
  columns: 8,
  links: 3,
  linkTitle: 60,
  /** The links' URLs together (each is within MAX_URL_CHARS): a link past this is left out. */
  linkUrls: 4000,
  minimalNote: 6000,
} as const;

/** The message within BOUNDS (unchanged when it is: every builder's is). */
export function bounded(m: Notification): Notification {
  let urls = 0;
  const links = m.links.slice(0, BOUNDS.links).filter((l) => (urls += l.url.length) <= BOUNDS.linkUrls);
  const table = m.table && {
    ...m.table,
    columns: m.table.columns.slice(0, BOUNDS.columns).map((c) => ({ ...c, title: clip(c.title, BOUNDS.label) })),
  };
  return {
    ...m,
    headline: clip(m.headline, BOUNDS.headline),
    summary: clip(m.summary, BOUNDS.summary),
    ...(m.lead !== undefined ? { lead: clip(m.lead, BOUNDS.lead) } : {}),
    facts: m.facts
      .slice(0, BOUNDS.facts)
      .map((f) => ({ title: clip(f.title, BOUNDS.factTitle), value: clip(f.value, BOUNDS.factValue) })),
    sections: m.sections.slice(0, BOUNDS.sections).map((s) => ({
      ...s,
      ...(s.label !== undefined ? { label: clip(s.label, BOUNDS.label) } : {}),
      max: Math.min(s.max, BOUNDS.section),
    })),
    ...(table ? { table } : {}),
    links: links.map((l) => ({
      ...l,
      title: clip(l.title, BOUNDS.linkTitle),
      ...(l.hint !== undefined ? { hint: clip(l.hint, BOUNDS.linkTitle) } : {}),
    })),
    ...(m.minimalNote !== undefined ? { minimalNote: clip(m.minimalNote, BOUNDS.minimalNote) } : {}),
  };
}

/** A channel's own bounds on the message's parts (Slack: 10 context elements); unset: the message's. */
export interface ChannelCaps {
  contextEntries?: number;
  contextValue?: number;
  /** Characters of a code section. */
  code?: number;
}

/** How much of each untrusted part one step shows: a cap per section (0: left out) and for the context. */
export interface Caps {
  sections: number[];
  contextEntries: number;
  contextValue: number;
}

export interface CapStep {
  caps: Caps;
  /** Trim groups shortened to fit the channel's limit (empty: nothing was). */
  trimmed: string[];
}

/** The ladder's own group for sections outside the message's trim order. */
const LAST_RESORT = '\u0000rest';

function halve(n: number, floor: number): number {
  return n <= floor ? 0 : Math.max(floor, Math.floor(n / 2));
}

/** The caps a message starts from on a channel: the message's own, within the channel's. */
function initialCaps(message: Notification, channel: ChannelCaps = {}): Caps {
  const min = (a: number, b: number | undefined) => (b === undefined ? a : Math.min(a, b));
  return {
    sections: message.sections.map((s) => (s.code ? min(s.max, channel.code) : s.max)),
    contextEntries: min(message.context?.maxEntries ?? 0, channel.contextEntries),
    contextValue: min(message.context?.maxValue ?? 0, channel.contextValue),
  };
}

/**
 * The caps to try, in order, when a message is over its channel's limit: the trim groups in the message's
 * order (the context: fewer entries, shorter values; a section group: each of its sections halved), each
 * until nothing of it is left; then, as a last resort, the sections in no group of that order (named by
 * their labels). Logs come last: they get what is left at every step (the renderer decides). The last step
 * shows none of the untrusted sections and context.
 */
function* capLadder(message: Notification, initial: Caps): Generator<CapStep> {
  let caps: Caps = { ...initial, sections: [...initial.sections] };
  const trimmed: string[] = [];
  yield { caps: { ...caps, sections: [...caps.sections] }, trimmed: [] };
  const ordered = message.trimOrder.filter((g) => g !== LAST_RESORT);
  const inOrder = (s: Section) => s.trim !== undefined && s.trim !== 'context' && ordered.includes(s.trim);
  const rest = message.sections.filter((s) => !inOrder(s)).map((s) => (s.label ?? 'text').toLowerCase());
  for (const group of [...ordered, ...(rest.length ? [LAST_RESORT] : [])]) {
    const members = message.sections.flatMap((s, i) =>
      group === LAST_RESORT ? (inOrder(s) ? [] : [i]) : s.trim === group && group !== 'context' ? [i] : [],
    );
    const isContext = group === 'context';
    const done = (c: Caps) => (isContext ? c.contextEntries === 0 : members.every((i) => c.sections[i] === 0));
    while (!done(caps)) {
      caps = isContext
        ? { ...caps, contextEntries: halve(caps.contextEntries, 1), contextValue: halve(caps.contextValue, 20) }
        : { ...caps, sections: caps.sections.map((n, i) => (members.includes(i) ? halve(n, 40) : n)) };
      for (const name of group === LAST_RESORT ? rest : [group]) if (!trimmed.includes(name)) trimmed.push(name);
      yield { caps: { ...caps, sections: [...caps.sections] }, trimmed: [...trimmed] };
    }
  }
}

/**
 * The render of the first step that fits (`build` answers undefined when its step does not), else the last
 * step's, built with `last` set: everything trimmable is gone, and what is left (a table, the logs) gets
 * whatever room remains. The one loop over the ladder every channel renders with.
 */
export function firstFit<T>(
  message: Notification,
  channel: ChannelCaps,
  build: (step: CapStep, last: boolean) => T | undefined,
): T {
  let lastStep: CapStep | undefined;
  for (const step of capLadder(message, initialCaps(message, channel))) {
    lastStep = step;
    const fits = build(step, false);
    if (fits !== undefined) return fits;
  }
  return build(lastStep!, true)!;
}

/** The sections one step shows, each with its cap (those capped to nothing are left out). */
export function shownSections(message: Notification, caps: Caps): { section: Section; max: number }[] {
  return message.sections.flatMap((section, i) => (caps.sections[i]! > 0 ? [{ section, max: caps.sections[i]! }] : []));
}

/** The context entries one step shows, values cleaned and capped, and how many it left out. */
export function contextEntries(context: Context | undefined, caps: Caps): { shown: [string, string][]; left: number } {
  const all = context?.untrusted ?? [];
  const shown = all.slice(0, caps.contextEntries).map(([k, v]): [string, string] => [k, clip(v, caps.contextValue)]);
  return { shown, left: all.length - shown.length };
}

/** Our own words for what a step left out, shown in the message. */
export function trimmedNote(step: CapStep, left: number): string | undefined {
  if (step.trimmed.length === 0) return undefined;
  return `… trimmed to fit the channel's size limit: ${step.trimmed.join(', ')}${left > 0 ? ` (${left} context entr${left === 1 ? 'y' : 'ies'} left out)` : ''}`;
}

/** "… and 12 more not shown (10 of them succeeded)": the rows of a table a channel had no room for. */
export function notShownNote(table: Table, shown: number): string | undefined {
  const left = table.rows.length - shown;
  if (left <= 0) return undefined;
  const quiet = table.rows.slice(shown).filter((r) => r.quiet).length;
  return `… and ${left} more not shown${quiet && table.quietWord ? ` (${quiet} of them ${table.quietWord})` : ''}`;
}

/** A cell shows at most this much unless its column says otherwise. */
const CELL_CHARS = 200;

/**
 * A table's rows as cells to show, each on one line and clipped: to its column's `max`, and untrusted cells
 * to `untrustedMax` too, where the channel is narrower.
 */
export function tableCells(table: Table, untrustedMax = Infinity): string[][] {
  return table.rows.map((row) =>
    table.columns.map((column, i) => {
      const max = column.max ?? CELL_CHARS;
      return clip(row.cells[i] ?? '', column.untrusted ? Math.min(max, untrustedMax) : max);
    }),
  );
}

/** The logs to show, if the target wants them and there are any. */
export function logsWanted(message: Notification, options: RenderOptions): boolean {
  return options.includeLogs && message.logs !== undefined && message.logs.untrusted.trim() !== '';
}
