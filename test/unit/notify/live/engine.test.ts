// The live-message engine against an in-memory channel (no HTTP), with the apps' own ledger codecs: a worker
// that dies right after any one call took effect (every call of a clean run in turn, then two deaths in a
// row), and the next attempt run as delivery runs it (the last state recorded, the doubt set). Judged as a
// user would judge the channel: one final message where the channel can be read back, every message beyond
// one and every reply repeated reported where it cannot, no reply missing, nothing lost. And the single
// cases: a deleted message, a lost answer, a budget run short, a claim lost, a reply refused for good.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sendLive, type Failure, type LiveChannel, type Step } from '../../../../src/notify/live/engine';
import type { SendContext, SendResult } from '../../../../src/notify/provider';
import { liveStateCodec as slackCodec } from '../../../../src/notify/providers/slackApp/state';
import { liveStateCodec as teamsCodec, type CardRef } from '../../../../src/notify/providers/teamsApp/state';

const SLACK = 'C0123456789';
const TEAMS = '19:0123456789abcdef@thread.tacv2';

/** The worker died: whatever the attempt does after this is never seen. */
class Killed extends Error {}
/** An answer from the channel, classified as given. */
class Answer extends Error {
  constructor(
    readonly failure: Failure['failure'],
    readonly mayHaveArrived = false,
  ) {
    super(`answered ${failure}${mayHaveArrived ? ' (may have arrived)' : ''}`);
  }
}

interface Msg {
  id: string;
  at: number;
  final: boolean;
  versions: number;
  replies: number[];
  deleted?: boolean;
}

type Event = Step | 'record';
type Kind = 'readable' | 'unreadable';

/** The channel and the clock, shared by every attempt; `killAfter`: event numbers after which the worker dies. */
class World {
  now = 1_700_000_000_000;
  messages: Msg[] = [];
  events: Event[] = [];
  killAfter = new Set<number>();
  dead = false;
  /** Answers for the next events of a kind: thrown after the event took effect (`applied`) or instead of it. */
  faults: Partial<Record<Event, { error: unknown; applied: boolean }[]>> = {};
  /** Creates that took effect without their answer being seen (a kill right after, a lost answer). */
  createsInDoubt = 0;
  /** Replies that took effect with the worker killed right after: the only ones a channel without checkpoints repeats. */
  repliesInDoubt = 0;
  /** How long each event takes. */
  eventMs = 10;
  private seq = 0;

  act<T>(event: Event, apply: () => T): T {
    if (this.dead) throw new Killed('the worker is dead');
    this.now += this.eventMs;
    this.events.push(event);
    const fault = this.faults[event]?.shift();
    if (fault && !fault.applied) throw fault.error;
    const out = apply();
    const killed = this.killAfter.has(this.events.length);
    if (event === 'create' && (killed || fault)) this.createsInDoubt++;
    if (event === 'reply' && killed) this.repliesInDoubt++;
    if (killed) {
      this.dead = true;
      throw new Killed(`killed after ${event}`);
    }
    if (fault) throw fault.error;
    return out;
  }

  post(final: boolean): Msg {
    const m: Msg = {
      id: `${Math.floor(this.now / 1000)}.${String(++this.seq).padStart(6, '0')}`,
      at: this.now,
      final,
      versions: 1,
      replies: [],
    };
    this.messages.push(m);
    return m;
  }

  find(id: string): Msg | undefined {
    return this.messages.find((m) => m.id === id && !m.deleted);
  }

  live(): Msg[] {
    return this.messages.filter((m) => !m.deleted);
  }
}

interface Caps {
  kind: Kind;
  checkpoints?: boolean;
  redelivery?: 'same-message' | 'new-message';
  spacingMs?: number;
}

const classify = (err: unknown): Failure =>
  err instanceof Answer
    ? { ok: false, failure: err.failure, detail: err.message, mayHaveArrived: err.mayHaveArrived }
    : { ok: false, failure: 'transient', detail: String(err) };

const words = {
  noun: 'message',
  reply: (i: number) => `reply ${i + 1} of the logs`,
  replyRefused: 'the full logs could not be added',
};

/** The in-memory channel for one attempt: Slack's shape where it can be read back, Teams' where it cannot. */
function channelOf(world: World, caps: Caps, final: boolean): LiveChannel<string> | LiveChannel<CardRef> {
  const base = {
    words,
    classify,
    ...(caps.spacingMs ? { spacingMs: caps.spacingMs } : {}),
    create: async () => world.act('create', () => world.post(final)),
    update: async (id: string) =>
      world.act('update', () => {
        const m = world.find(id);
        if (!m) return 'gone' as const;
        m.final = final;
        m.versions++;
        return 'updated' as const;
      }),
    reply: async (id: string, index: number) => world.act('reply', () => void world.find(id)?.replies.push(index)),
  };
  if (caps.kind === 'readable')
    return {
      ...base,
      state: slackCodec(SLACK),
      checkpoints: caps.checkpoints ?? false,
      redelivery: caps.redelivery ?? 'same-message',
      create: async () => ({ ref: (await base.create()).id }),
      findOurs: async (since: number, exclude: string | undefined) =>
        world.act('lookup', () => {
          const m = world
            .live()
            .filter((x) => x.at >= since && x.id !== exclude)
            .at(-1);
          return { ...(m ? { ref: m.id } : {}), complete: true, notes: [] };
        }),
      lookBackFrom: () => 0,
    };
  const ref = (id: string): CardRef => ({ conversationId: `${TEAMS};messageid=${id}`, activityId: id });
  return {
    ...base,
    state: teamsCodec(TEAMS),
    checkpoints: caps.checkpoints ?? true,
    redelivery: caps.redelivery ?? 'new-message',
    create: async () => ({ ref: ref((await base.create()).id) }),
    update: (r: CardRef) => base.update(r.activityId),
    reply: (r: CardRef, i: number) => base.reply(r.activityId, i),
  };
}

/** What delivery keeps for the target between attempts, and what it logged. */
interface Ledger {
  state?: string;
  unsure?: number;
  /** The row's last write (the claim, or a checkpoint): where a doubt starts. */
  wrote: number;
  delivered: boolean;
  failed: boolean;
  said: string[];
  attempts: number;
}

const newLedger = (): Ledger => ({ wrote: 0, delivered: false, failed: false, said: [], attempts: 0 });

interface Run {
  replies: number;
  /** Polls that see the command running before the result (default 2; 0: final at first sight). */
  polls?: number;
  maxSendMs?: number;
  record?: (state: string) => 'recorded' | 'unrecorded' | 'lost';
}

/** One attempt as delivery makes it: claim, send, record the result (or nothing, if the worker died). */
async function attempt(
  world: World,
  caps: Caps,
  ledger: Ledger,
  final: boolean,
  run: Run,
): Promise<SendResult | 'killed'> {
  world.dead = false;
  ledger.attempts++;
  const claimedAt = world.now;
  ledger.wrote = claimedAt;
  const ctx: SendContext = {
    timeoutMs: 1000,
    ...(ledger.state !== undefined ? { providerState: ledger.state } : {}),
    ...(ledger.unsure !== undefined ? { unsureSinceMs: ledger.unsure } : {}),
    record: async (state) =>
      world.act('record', () => {
        const answer = run.record?.(state) ?? 'recorded';
        if (answer === 'recorded') [ledger.state, ledger.wrote] = [state, world.now];
        return answer;
      }),
    recordMs: 100,
  };
  const job = { subject: 'aks-test/cmd1', final, replies: run.replies };
  const limits = { timeoutMs: 1000, maxSendMs: run.maxSendMs ?? 60_000, now: () => world.now, sleep: async () => {} };
  const result = await sendLive(channelOf(world, caps, final) as LiveChannel<unknown>, job, ctx, limits);
  if (world.dead) {
    // The lease runs out: the next claim is in doubt from the row's last write.
    ledger.unsure ??= ledger.wrote;
    return 'killed';
  }
  if (result.ok) {
    ledger.state = result.providerState ?? ledger.state;
    ledger.unsure = undefined;
    if (result.note) ledger.said.push(result.note);
    ledger.delivered ||= final;
    return result;
  }
  ledger.said.push(result.detail);
  ledger.state = result.providerState ?? ledger.state;
  ledger.unsure ??= result.mayHaveArrived ? claimedAt : undefined;
  if (final && result.failure === 'permanent') ledger.failed = true;
  return result;
}

/** Polls that see the command running (two, unless told), then the result until it is delivered. */
async function deliver(world: World, caps: Caps, run: Run, ledger = newLedger()): Promise<Ledger> {
  for (let i = 0; i < (run.polls ?? 2); i++) await attempt(world, caps, ledger, false, run);
  for (let i = 0; i < 12 && !ledger.delivered && !ledger.failed; i++) await attempt(world, caps, ledger, true, run);
  return ledger;
}

const count = (said: string[], re: RegExp) => said.reduce((n, s) => n + (s.match(re)?.length ?? 0), 0);
/** "may show this command twice" tells one message beyond one; "… up to N times", N − 1. */
const messagesTold = (said: string[]) =>
  said.reduce(
    (n, s) =>
      n +
      [...s.matchAll(/may show this command (twice|up to (\d+) times)/g)].reduce(
        (k, m) => k + (m[2] ? Number(m[2]) - 1 : 1),
        0,
      ),
    0,
  );

function recordedId(caps: Caps, ledger: Ledger): string | undefined {
  const live = caps.kind === 'readable' ? slackCodec(SLACK).read(ledger.state) : teamsCodec(TEAMS).read(ledger.state);
  const ref = live.ref as string | CardRef | undefined;
  return typeof ref === 'string' ? ref : ref?.activityId;
}

/** What a user of the channel must see, and what the operator must have been told. */
function assertAsAUserSeesIt(world: World, caps: Caps, ledger: Ledger, replies: number, what: string) {
  const shown = `${what}\nevents: ${world.events.join(' ')}\nmessages: ${JSON.stringify(world.messages)}\nsaid: ${ledger.said.join('\n  ')}`;
  assert.ok(ledger.delivered, `nothing lost: delivered (${shown})`);
  const mine = world.find(recordedId(caps, ledger) ?? '');
  assert.ok(mine, `the ledger names a message in the channel (${shown})`);
  assert.ok(mine.final, `the recorded message is final (${shown})`);
  const beyondOne = world.live().length - 1;
  if (caps.kind === 'readable') assert.equal(beyondOne, 0, `exactly one message (${shown})`);
  else assert.ok(beyondOne <= messagesTold(ledger.said), `every message beyond one reported (${shown})`);
  // Checkpointed, a second message comes only of a create whose answer was never recorded.
  if (checkpointed(caps))
    assert.ok(beyondOne <= world.createsInDoubt, `no second message but for a create in doubt (${shown})`);
  const distinct = new Set(mine.replies);
  assert.deepEqual([...distinct].sort(), [...Array(replies).keys()], `no reply missing (${shown})`);
  const repeated = mine.replies.length - distinct.size;
  if (checkpointed(caps))
    assert.ok(
      repeated <= count(ledger.said, /may show twice in the thread/g),
      `every reply repeated reported (${shown})`,
    );
  // Without checkpoints nothing says how far a dead attempt got: a reply repeats only where a worker died right
  // after making it, and the next attempt made it again (never more, never on a guess).
  else assert.ok(repeated <= world.repliesInDoubt, `a reply repeated only after a kill right after it (${shown})`);
}

const KINDS: Caps[] = [{ kind: 'readable' }, { kind: 'unreadable' }];
const checkpointed = (caps: Caps) => caps.checkpoints ?? caps.kind === 'unreadable';
/** Replies the final message takes: Slack's one file (its ledger JSON holds no more), Teams' N reply cards. */
const repliesOf = (caps: Caps) => (caps.kind === 'readable' ? 1 : 3);

describe('the live-message engine', () => {
  for (const caps of KINDS)
    for (const polls of [2, 0]) {
      const run = { replies: repliesOf(caps), polls };
      const when = polls ? 'posted while running' : 'final at first sight';
      it(`${caps.kind}, ${when}: a worker killed right after each call of a run (create, checkpoint, update, reply)`, async () => {
        const clean = new World();
        const ledger = await deliver(clean, caps, run);
        assertAsAUserSeesIt(clean, caps, ledger, run.replies, 'no kill');
        assert.equal(clean.live().length, 1);
        assert.equal(ledger.said.length, 0, 'nothing to tell');
        const kinds = new Set<Event>();
        for (let k = 1; k <= clean.events.length; k++) {
          const world = new World();
          world.killAfter.add(k);
          const got = await deliver(world, caps, run);
          kinds.add(world.events[k - 1]!);
          assertAsAUserSeesIt(world, caps, got, run.replies, `killed after event ${k} (${world.events[k - 1]})`);
        }
        // Every kind of call the engine makes in such a run was a place to die (the lookup: below).
        const expected: Event[] = ['create', 'reply', ...(polls ? ['update' as const] : [])];
        for (const e of checkpointed(caps) ? [...expected, 'record' as const] : expected)
          assert.ok(kinds.has(e), `killed after a ${e}`);
      });

      it(`${caps.kind}, ${when}: killed twice, after any two calls in a row of attempts`, async () => {
        const clean = new World();
        await deliver(clean, caps, run);
        let runs = 0;
        for (let k = 1; k <= clean.events.length; k++)
          for (let j = k + 1; j <= k + 8; j++) {
            const world = new World();
            world.killAfter = new Set([k, j]);
            const got = await deliver(world, caps, run);
            assertAsAUserSeesIt(world, caps, got, run.replies, `killed after events ${k} and ${j}`);
            runs++;
          }
        assert.ok(runs >= 8 * clean.events.length);
      });
    }

  it('readable: a kill right after the lookup leaves the next attempt to look again, and adopt', async () => {
    const world = new World();
    const caps: Caps = { kind: 'readable' };
    // The running post's answer is lost: the next attempt looks first.
    world.faults.create = [{ error: new Answer('transient', true), applied: true }];
    const ledger = newLedger();
    const first = await attempt(world, caps, ledger, false, { replies: 1 });
    assert.ok(first !== 'killed' && !first.ok && first.mayHaveArrived);
    world.killAfter.add(world.events.length + 1);
    assert.equal(await attempt(world, caps, ledger, true, { replies: 1 }), 'killed');
    assert.deepEqual(world.events, ['create', 'lookup']);
    await deliver(world, caps, { replies: 1 }, ledger);
    assert.equal(world.events.filter((e) => e === 'lookup').length, 2, 'looked again');
    assert.equal(world.events.filter((e) => e === 'create').length, 1, 'adopted, never posted twice');
    assertAsAUserSeesIt(world, caps, ledger, 1, 'killed after the lookup');
  });

  it('a lost answer to a create: readable → adopted; unreadable → posted again and reported; no ids → may have arrived', async () => {
    for (const caps of KINDS) {
      const world = new World();
      world.faults.create = [{ error: new Answer('transient', true), applied: true }];
      const ledger = await deliver(world, caps, { replies: 0 });
      assertAsAUserSeesIt(world, caps, ledger, 0, caps.kind);
      assert.equal(world.live().length, caps.kind === 'readable' ? 1 : 2);
      if (caps.kind === 'unreadable')
        assert.match(
          ledger.said.join('\n'),
          /may have posted the message for aks-test\/cmd1.*may show this command twice/,
        );
    }
    // An answer without the message's ids.
    const world = new World();
    const ch = channelOf(world, { kind: 'unreadable' }, true) as LiveChannel<CardRef>;
    ch.create = async () => (world.act('create', () => world.post(true)), { unnamed: 'answered without its ids' });
    const r = await sendLive(
      ch,
      { subject: 's', final: true, replies: 0 },
      { timeoutMs: 1000 },
      { timeoutMs: 1000, maxSendMs: 60_000 },
    );
    assert.ok(
      !r.ok && r.failure === 'transient' && r.mayHaveArrived && r.detail === 'answered without its ids',
      JSON.stringify(r),
    );
  });

  it('a failure is in doubt only for a create', async () => {
    for (const step of ['update', 'reply'] as const) {
      const world = new World();
      const ledger = newLedger();
      await attempt(world, { kind: 'unreadable' }, ledger, false, { replies: 2 });
      world.faults[step] = [{ error: new Answer('transient', true), applied: true }];
      const r = await attempt(world, { kind: 'unreadable' }, ledger, true, { replies: 2 });
      assert.ok(r !== 'killed' && !r.ok && r.mayHaveArrived === false, `${step}: ${JSON.stringify(r)}`);
      if (step === 'reply')
        assert.match(r.detail, /reply: .*; reply 1 of the logs of aks-test\/cmd1 may show twice in the thread/);
    }
  });

  for (const caps of KINDS)
    it(`${caps.kind}: a message deleted in the channel is posted again, once, with a note`, async () => {
      const world = new World();
      const ledger = newLedger();
      await attempt(world, caps, ledger, false, { replies: 1 });
      world.messages[0]!.deleted = true;
      await deliver(world, caps, { replies: 1 }, ledger);
      assertAsAUserSeesIt(world, caps, ledger, 1, 'deleted');
      assert.equal(world.messages.length, 2, 'posted again, once');
      assert.match(ledger.said.join('\n'), /the message was deleted in the channel; it was posted again/);
      assert.doesNotMatch(ledger.said.join('\n'), /may show twice/, 'a new message: no reply can repeat');
    });

  it('readable: a message not ours to edit → ours looked for (the refused one left out) and updated', async () => {
    const world = new World();
    const caps: Caps = { kind: 'readable' };
    const ledger = newLedger();
    await attempt(world, caps, ledger, false, { replies: 0 });
    const ours = world.messages[0]!;
    const copy = world.post(false);
    ledger.state = JSON.stringify({ channel: SLACK, ts: copy.id });
    const ch = channelOf(world, caps, true) as LiveChannel<string>;
    const update = ch.update;
    ch.update = async (id) => (id === copy.id ? world.act('update', () => 'not-ours' as const) : update(id));
    const r = await sendLive(
      ch,
      { subject: 's', final: true, replies: 0 },
      { timeoutMs: 1000, providerState: ledger.state },
      {
        timeoutMs: 1000,
        maxSendMs: 60_000,
        now: () => world.now,
      },
    );
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(world.events.slice(-3), ['update', 'lookup', 'update']);
    assert.ok(ours.final && !copy.final && copy.versions === 1);
    assert.deepEqual(JSON.parse(r.providerState!), { channel: SLACK, ts: ours.id });
  });

  for (const caps of KINDS)
    it(`${caps.kind}: the budget running out between calls → transient, what was done kept, the next attempt goes on`, async () => {
      const world = new World();
      const ledger = newLedger();
      await attempt(world, caps, ledger, false, { replies: repliesOf(caps) });
      // Each call takes nearly the whole timeout: update, then a reply or two fit in 4 s.
      world.eventMs = 900;
      const run = { replies: repliesOf(caps), maxSendMs: caps.kind === 'readable' ? 2500 : 4000 };
      const r = await attempt(world, caps, ledger, true, run);
      assert.ok(r !== 'killed' && !r.ok && r.failure === 'transient', JSON.stringify(r));
      assert.match(r.detail, /no time left in this attempt for reply \d of the logs/);
      const replied = world.messages[0]!.replies.length;
      assert.ok(replied < repliesOf(caps), `${replied} replies in the first attempt`);
      world.eventMs = 10;
      await deliver(world, caps, run, ledger);
      assertAsAUserSeesIt(world, caps, ledger, repliesOf(caps), 'budget');
      assert.deepEqual(world.messages[0]!.replies, [...Array(repliesOf(caps)).keys()], 'went on, none repeated');
    });

  it("a checkpoint answered 'lost' stops the send at once", async () => {
    const world = new World();
    const ledger = newLedger();
    const r = await attempt(world, { kind: 'unreadable' }, ledger, true, { replies: 2, record: () => 'lost' });
    assert.ok(r !== 'killed' && !r.ok && r.failure === 'transient', JSON.stringify(r));
    assert.match(r.detail, /another delivery took this target over/);
    assert.deepEqual(world.events, ['create', 'record'], 'no reply after the claim was lost');
    // 'unrecorded' goes on: the result carries the state.
    const w2 = new World();
    const r2 = await attempt(w2, { kind: 'unreadable' }, newLedger(), true, { replies: 2, record: () => 'unrecorded' });
    assert.ok(r2 !== 'killed' && r2.ok, JSON.stringify(r2));
  });

  for (const caps of KINDS)
    it(`${caps.kind}: a reply refused for good → delivered, with a note`, async () => {
      const world = new World();
      world.faults.reply = [{ error: new Answer('permanent'), applied: false }];
      const ledger = await deliver(world, caps, { replies: 2 });
      assert.ok(ledger.delivered);
      assert.equal(ledger.attempts, 3, 'one attempt for the result');
      assert.match(ledger.said.join('\n'), /the full logs could not be added: answered permanent/);
      const state = JSON.parse(ledger.state!) as { closed?: boolean };
      assert.equal(state.closed, caps.kind === 'unreadable' ? true : undefined);
    });

  it('a redelivery: the same message updated where the channel says so, else a new one', async () => {
    for (const caps of KINDS) {
      const world = new World();
      const ledger = await deliver(world, caps, { replies: 1 });
      ledger.delivered = false;
      await attempt(world, caps, ledger, true, { replies: 1 });
      assert.equal(world.messages.length, caps.kind === 'readable' ? 1 : 2, caps.kind);
      assert.deepEqual(world.messages.at(-1)!.replies, [0], `${caps.kind}: the logs once`);
    }
  });

  it('spaces the calls of one attempt, not its first', async () => {
    const world = new World();
    const slept: number[] = [];
    const ch = channelOf(world, { kind: 'unreadable', spacingMs: 300 }, true);
    const r = await sendLive(
      ch as LiveChannel<unknown>,
      { subject: 's', final: true, replies: 2 },
      { timeoutMs: 1000 },
      {
        timeoutMs: 1000,
        maxSendMs: 60_000,
        sleep: async (ms) => void slept.push(ms),
      },
    );
    assert.ok(r.ok);
    assert.deepEqual(slept, [300, 300], 'before each reply');
  });

  it('reads and goes on from the state an older app wrote, and writes it back in the same shape', async () => {
    // Slack: the message and its file known.
    const slack = new World();
    const ts = slack.post(false).id;
    const s = newLedger();
    s.state = JSON.stringify({ channel: SLACK, ts, filed: true });
    await attempt(slack, { kind: 'readable' }, s, true, { replies: 1 });
    assert.deepEqual(slack.events, ['update'], 'updated in place, the file not sent again');
    assert.deepEqual(JSON.parse(s.state), { channel: SLACK, ts, filed: true });
    // Teams: the card, one reply in, and a suspect not yet told.
    const teams = new World();
    const id = teams.post(false).id;
    const t = newLedger();
    t.state = JSON.stringify({
      channel: TEAMS,
      conversationId: `${TEAMS};messageid=${id}`,
      activityId: id,
      replied: 1,
      suspect: 1,
    });
    const r = await attempt(teams, { kind: 'unreadable' }, t, true, { replies: 2 });
    assert.ok(r !== 'killed' && r.ok && /may show this command twice/.test(r.note ?? ''), JSON.stringify(r));
    assert.deepEqual(teams.messages[0]!.replies, [1]);
    assert.deepEqual(JSON.parse(t.state), {
      channel: TEAMS,
      conversationId: `${TEAMS};messageid=${id}`,
      activityId: id,
      replied: 2,
      closed: true,
    });
  });
});
