// The one message every chat channel renders, whatever it reports: a command's result, a command still
// running, a fleet run's summary, doctor's test, or a kind not written yet. It is built once per report
// (notify/compose.ts), and a channel (notify/providers/) renders only this, within its own limits, as
// Flux's providers render a generic event: no channel learns which kind of report it shows, so a new kind
// is a new builder and touches no channel.
//
// What a channel may show as it is, and what it must keep inert, is in the types: `headline`, `summary`,
// `lead`, facts, link titles, table column titles and `minimalNote` are our own words and validated values
// (names, ids, numbers); everything under `untrusted` names text from outside — a producer, ARM, the
// cluster — that a channel cleans, clips and sets only where its markup is not parsed.

/** The colour of the whole message: how it ended, or that it is still under way. */
export type Tone = 'good' | 'attention' | 'warning' | 'accent';

/** A validated value under our own label. */
export interface Fact {
  title: string;
  value: string;
}

/**
 * A button. `url` is https and within MAX_URL_CHARS (the builder checks); `hint`: more words where there is room.
 * @public (the contract a new channel is written against)
 */
export interface Link {
  title: string;
  hint?: string;
  url: string;
}

/** Untrusted text under our own label (none: it follows the section before it). */
export interface Section {
  label?: string;
  /** Raw: the channel cleans and clips it (core/text) and escapes it for its markup. */
  untrusted: string;
  /** A command: monospaced, fenced where the channel fences code. */
  code?: boolean;
  /** At most this many characters shown, before any trimming. */
  max: number;
  /** Its trim group (see `trimOrder`); absent: it is never trimmed below `max`. */
  trim?: string;
}

/** Untrusted key-value pairs (a producer's context); the keys are already cleaned and clipped. */
export interface Context {
  untrusted: [string, string][];
  /** At most this many entries, each value at most `maxValue` characters, before any trimming. */
  maxEntries: number;
  maxValue: number;
}

/** @public: part of the contract a new channel is written against. */
export interface TableColumn {
  title: string;
  /** The cells of this column are untrusted text, shown clipped to `max` characters. */
  untrusted?: boolean;
  max?: number;
}

export interface TableRow {
  /** An emoji for the row's state, where the channel shows one. */
  mark: string;
  /** One per column; the first names the row (a validated name). */
  cells: string[];
  /** An ordinary row a reader can do without (a success): counted, by `quietWord`, when not shown. */
  quiet?: boolean;
}

/** Rows in the order to show them: what matters first, so that a channel short of room shows the rest as a count. */
export interface Table {
  columns: TableColumn[];
  rows: TableRow[];
  /** What a quiet row is ("succeeded"): "… and 12 more not shown (10 of them succeeded)". */
  quietWord?: string;
}

/**
 * What the command printed: untrusted, up to ARM's 512 kB.
 * @public (the contract a new channel is written against)
 */
export interface Logs {
  untrusted: string;
  /** Its heading ("Logs"). */
  title: string;
  /** Its end belongs in the message itself; else it goes only where a channel has room beside it (a thread). */
  inline: boolean;
  /** The file a thread attachment takes (validated names only). */
  fileName: string;
}

export interface Notification {
  /** Which report this is, for a live message to find its own posts: validated ids (and a short name for notes). */
  ref: { id: string; about: string; name: string };
  /** The last state of what it reports: a live message is updated with it and then closed. */
  final: boolean;
  /** A failure: the target's mention goes with it. */
  alert: boolean;
  tone: Tone;
  emoji: string;
  headline: string;
  /** Untrusted words for the headline's end (ARM's reason): only where the headline is shown as plain text. */
  headlineUntrusted?: string;
  /** One line for the channel's notification text (a phone's banner): our own words, emoji included. */
  summary: string;
  /** A line shown in bold under the headline (a fleet's progress). */
  lead?: string;
  facts: Fact[];
  /** Where the first fact links, where a channel can link a fact. */
  factLink?: string;
  sections: Section[];
  context?: Context;
  table?: Table;
  logs?: Logs;
  /** Buttons; the minimal form keeps the first. */
  links: Link[];
  /** What the minimal form shows in place of the table (validated names only). */
  minimalNote?: string;
  /** Trim groups, trimmed first first, when a message is over a channel's limit ("context" is the context's). */
  trimOrder: string[];
}

/**
 * A report as a data channel takes it (events for other systems): what it is, about what, and the report
 * itself. `final`, `failure` and `everyTarget` are what delivery decides by, for every channel alike.
 */
export interface StructuredReport {
  /** command.result, command.running, fleet.summary, fleet.running or doctor.test. */
  type: string;
  /** What it is about: the cluster's resource id, or the fleet run's id. */
  subject: string;
  /** When what it reports happened (a result's end), if known: delivery's lag is counted from it. */
  time?: string;
  final: boolean;
  /** A failure: targets that hear of failures only hear of it. */
  failure: boolean;
  /** Every target asked hears it, those that hear of failures only too (doctor's test). */
  everyTarget?: boolean;
  /** The report as built (core/report.ts, core/group.ts…): a data channel sends it on, never branching on `type`. */
  data: unknown;
}

/** What delivery carries to a target: the message for a chat channel, the report for a data channel. */
export interface Outgoing {
  message: Notification;
  report: StructuredReport;
}
