// The live-message engine, written once for every chat channel that keeps one message per command: post it
// while the command runs, update it in place with the result, put the full logs in its thread, and get
// through everything an attempt can meet on the way — a worker that died mid-call (the next attempt goes on
// from the ledger's checkpoint, adopts the post it finds where the channel can be read back, or counts and
// tells the possible duplicate where it cannot), a message a member deleted (posted again, once, with a
// note), a thread reply refused for good (delivered, with a note), and an attempt whose time runs short
// (a transient failure that keeps what it learnt). A channel is reduced to its calls (channel.ts).
import type { SendContext, SendResult } from '../provider';
import type { Failure, LiveChannel, LiveJob, LiveLimits, LiveState, Step } from './channel';

export type { Failure, LiveChannel, StateCodec, Step } from './channel';

const wait = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One send of the live message through `channel`. */
export function sendLive<Ref>(
  channel: LiveChannel<Ref>,
  job: LiveJob,
  ctx: SendContext,
  limits: LiveLimits,
): Promise<SendResult> {
  return new LiveAttempt(channel, job, ctx, limits).run();
}

class LiveAttempt<Ref> {
  private readonly state: LiveState<Ref>;
  private readonly notes: string[] = [];
  private readonly now: () => number;
  private readonly started: number;
  private calls = 0;
  private step: Step = 'create';
  /** The message was there before this attempt posted one (recorded, or found): a dead attempt may have replied. */
  private earlier = false;
  /** A member deleted the message this attempt found: the next post is its second. */
  private deleted = false;

  constructor(
    private readonly ch: LiveChannel<Ref>,
    private readonly job: LiveJob,
    private readonly ctx: SendContext,
    private readonly limits: LiveLimits,
  ) {
    this.state = ch.state.read(ctx.providerState);
    this.now = limits.now ?? Date.now;
    this.started = this.now();
  }

  async run(): Promise<SendResult> {
    // Sent again on purpose after the message was finished: a new message.
    if (this.state.closed) {
      this.forgetMessage();
      delete this.state.closed;
      delete this.state.suspect;
    }
    this.earlier = this.state.ref !== undefined;
    try {
      const stop =
        (await this.adoptEarlierPost()) ??
        (await this.updateKnown()) ??
        (await this.postNew()) ??
        (await this.replyOnwards());
      if (stop) return stop;
      if (this.job.final) this.close();
      this.tellSuspects();
      return { ok: true, providerState: this.saved(), ...(this.notes.length ? { note: this.notes.join('; ') } : {}) };
    } catch (err) {
      return this.callFailed(err);
    }
  }

  /** No message known, and an earlier attempt may have posted one: look for it where the channel can be read. */
  private async adoptEarlierPost(): Promise<Failure | undefined> {
    if (this.state.ref !== undefined || !this.ch.findOurs) return undefined;
    const from = Math.min(this.ctx.unsureSinceMs ?? Infinity, this.state.lookFrom ?? Infinity);
    return from === Infinity ? undefined : this.lookForOurs(from);
  }

  /** Our own message in the channel since `sinceMs`, adopted if there; a lookup cut short by time stays owed. */
  private async lookForOurs(sinceMs: number, exclude?: Ref): Promise<Failure | undefined> {
    // Kept first: a lookup that fails now is made by the next attempt, not skipped.
    this.state.lookFrom = sinceMs;
    const short = this.outOfTime('look for an earlier post');
    if (short) return short;
    const found = await this.call('lookup', () => this.ch.findOurs!(sinceMs, exclude, () => this.budgetLeft()));
    this.notes.push(...found.notes);
    if (found.ref !== undefined) {
      this.state.ref = found.ref;
      this.earlier = true;
    } else if (!found.complete && !this.budgetLeft()) {
      return this.goOnLater("looking for an earlier post took this attempt's time");
    } else if (!found.complete) {
      this.notes.push(
        `the lookup for an earlier post ${found.reach ?? 'did not finish'}; the channel may show ${this.job.subject} twice`,
      );
    }
    delete this.state.lookFrom;
    return undefined;
  }

  /** The message known (recorded, or found) is updated in place; deleted → posted anew; not ours → ours found. */
  private async updateKnown(): Promise<Failure | undefined> {
    for (let round = 0; this.state.ref !== undefined; round++) {
      const ref = this.state.ref;
      const short = this.outOfTime(`update the ${this.ch.words.noun}${round > 0 ? ' found' : ''}`);
      if (short) return short;
      const answer = await this.call('update', () => this.ch.update(ref));
      if (answer === 'updated') return undefined;
      this.forgetMessage();
      if (answer === 'gone') {
        // A member deleted it: the channel shows it again, once, from here on.
        this.deleted = true;
        this.notes.push(`the ${this.ch.words.noun} was deleted in the channel; it was posted again`);
        return undefined;
      }
      // Not ours to edit, whatever it claims: ours is looked for before anything is posted anew.
      if (round > 0 || !this.ch.findOurs || !this.ch.lookBackFrom) {
        const detail = `${this.nameOf('update')}: the ${this.ch.words.noun} cannot be updated (not ours to edit)`;
        this.tellSuspects();
        return { ok: false, failure: 'permanent', detail: this.withNotes(detail), providerState: this.saved() };
      }
      const stop = await this.lookForOurs(this.ctx.unsureSinceMs ?? this.ch.lookBackFrom(ref), ref);
      if (stop) return stop;
    }
    return undefined;
  }

  /** No message: a new one, counted first where a lookup could not rule out one posted by a dead attempt. */
  private async postNew(): Promise<Failure | undefined> {
    if (this.state.ref !== undefined) return undefined;
    const short = this.outOfTime(`post the ${this.ch.words.noun}${this.deleted ? ' again' : ''}`);
    if (short) return short;
    if (this.ctx.unsureSinceMs !== undefined && !this.ch.findOurs) {
      // Counted, and recorded, before the new message: an earlier attempt may have posted one unrecorded.
      this.state.suspect = (this.state.suspect ?? 0) + 1;
      if (!(await this.checkpoint())) return this.overtaken();
    }
    const made = await this.call('create', () => this.ch.create());
    if (!('ref' in made)) {
      this.tellSuspects();
      const detail = this.withNotes(made.unnamed);
      return { ok: false, failure: 'transient', detail, mayHaveArrived: true, providerState: this.saved() };
    }
    this.state.ref = made.ref;
    this.state.replied = 0;
    this.earlier = false;
    if (!(await this.checkpoint())) return this.overtaken();
    return undefined;
  }

  /** The final message's replies, from where the last attempt stopped. */
  private async replyOnwards(): Promise<Failure | undefined> {
    const count = this.job.final ? this.job.replies : 0;
    const from = this.state.replied;
    const ref = this.state.ref!;
    // Kept, and recorded, before the reply: an attempt that dies after it leaves the report to the next.
    // Without checkpoints nothing says how far a dead attempt got: a reply it made after its last result is
    // made again (once per worker lost right after it), untold rather than guessed at in every doubt.
    if (this.earlier && from < count && this.ctx.unsureSinceMs !== undefined && this.ch.checkpoints) {
      this.state.repeats = [...(this.state.repeats ?? []), from];
      if (!(await this.checkpoint())) return this.overtaken();
    }
    for (let i = from; i < count; i++) {
      const short = this.outOfTime(`for ${this.ch.words.reply(i, count)}`, '');
      if (short) return short;
      await this.call('reply', () => this.ch.reply(ref, i));
      this.state.replied = i + 1;
      // The last one goes with the result.
      if (i + 1 < count && !(await this.checkpoint())) return this.overtaken();
    }
    return undefined;
  }

  private callFailed(err: unknown): SendResult {
    const failed = this.ch.classify(err, this.step);
    this.tellSuspects();
    if (this.step === 'reply' && failed.failure !== 'transient') {
      // The message is there and final; only its thread is not: say so, do not fail the delivery.
      this.close();
      const note = [...this.notes, `${this.ch.words.replyRefused}: ${failed.detail}`].join('; ');
      return { ok: true, providerState: this.saved(), note };
    }
    // A result refused for good finishes the message (a running one refused is tried again at the next poll).
    if (failed.failure === 'permanent' && this.job.final) this.close();
    const twice = this.step === 'reply' && failed.mayHaveArrived ? `; ${this.mayRepeat(this.state.replied)}` : '';
    return {
      ...failed,
      detail: this.withNotes(`${this.nameOf(this.step)}: ${failed.detail}${twice}`),
      // Doubt matters only for a new message: an update or a reply of a known one cannot make a second one.
      mayHaveArrived: this.step === 'create' && !!failed.mayHaveArrived,
      providerState: this.saved(),
    };
  }

  /** Every call but an attempt's first starts only if it (spacing and checkpoint included) fits in the claim. */
  private budgetLeft(): boolean {
    const record = this.ch.checkpoints ? (this.ctx.recordMs ?? 0) : 0;
    const next = this.limits.timeoutMs + record + (this.ch.spacingMs ?? 0);
    return this.now() - this.started + next <= this.limits.maxSendMs - 1000;
  }

  private outOfTime(what: string, to = 'to '): Failure | undefined {
    if (this.calls === 0 || this.budgetLeft()) return undefined;
    return this.goOnLater(`no time left in this attempt ${to}${what}`);
  }

  private async call<T>(step: Step, make: () => Promise<T>): Promise<T> {
    this.step = step;
    if (this.calls++ > 0 && this.ch.spacingMs) await (this.limits.sleep ?? wait)(this.ch.spacingMs);
    return make();
  }

  /** False: another delivery holds the target now, and this send must stop. */
  private async checkpoint(): Promise<boolean> {
    if (!this.ch.checkpoints || !this.ctx.record) return true;
    return (await this.ctx.record(this.saved())) !== 'lost';
  }

  private overtaken(): Failure {
    return this.goOnLater('another delivery took this target over (this one outlived its claim)');
  }

  /** Not this attempt: the next one goes on from what this one learnt. */
  private goOnLater(detail: string): Failure {
    this.tellSuspects();
    return { ok: false, failure: 'transient', detail: this.withNotes(detail), providerState: this.saved() };
  }

  /**
   * Every result tells the possible duplicates counted so far, messages and replies (some by an attempt that
   * died before its result was logged), and the state it hands back no longer counts them.
   */
  private tellSuspects(): void {
    const n = this.state.suspect ?? 0;
    const { noun } = this.ch.words;
    const subject = this.job.subject;
    if (n === 1)
      this.notes.push(
        `an earlier attempt may have posted the ${noun} for ${subject} without its answer reaching us; the channel may show this command twice`,
      );
    if (n > 1)
      this.notes.push(
        `${n} earlier attempts may have posted the ${noun} for ${subject} without their answers reaching us; the channel may show this command up to ${n + 1} times`,
      );
    delete this.state.suspect;
    for (const i of this.state.repeats ?? []) this.notes.push(this.stoppedAfter(i));
    delete this.state.repeats;
  }

  private stoppedAfter(index: number): string {
    const { noun } = this.ch.words;
    return `an earlier attempt stopped after the ${noun} of ${this.job.subject} was posted; ${this.mayRepeat(index)}`;
  }

  private mayRepeat(index: number): string {
    return `${this.ch.words.reply(index, this.job.replies)} of ${this.job.subject} may show twice in the thread`;
  }

  /** What this attempt did that the operator must hear of goes with a failure too. */
  private withNotes(detail: string): string {
    return this.notes.length ? `${detail} (this attempt: ${this.notes.join('; ')})` : detail;
  }

  private forgetMessage(): void {
    delete this.state.ref;
    this.state.replied = 0;
    this.earlier = false;
  }

  private close(): void {
    if (this.ch.redelivery === 'new-message') this.state.closed = true;
  }

  private nameOf(step: Step): string {
    return this.ch.stepName?.(step) ?? step;
  }

  private saved(): string {
    return this.ch.state.write(this.state);
  }
}
