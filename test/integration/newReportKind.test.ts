// A new kind of report needs its own builder of the neutral message, nothing else: this file defines one
// ("maintenance notice": a window, an announcement a person wrote, and a table of 160 affected clusters with
// an operator's note each, and a runbook for the thread) and delivers it through the one delivery path to a
// target of every shipped chat kind against its stand-in — the Slack webhook receiver, Slack's Web API, the
// Teams Workflows receiver and the Bot Connector — with the ledger in Azurite. Each channel must show it
// within its limits, its untrusted text inert, its table cut to what fits with the rest counted, and its
// runbook where the channel has a thread. No production file knows of it.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { BOT_MESSAGE_MAX_BYTES, type TeamsActivity } from '../../dev/botConnectorStandIn';
import { slackPayloadProblem, TEAMS_MAX_REQUEST_BYTES } from '../../dev/webhookReceivers';
import { loadConfig } from '../../src/config';
import type { Log } from '../../src/log';
import type { Outgoing } from '../../src/notify/notification';
import { deliverTarget } from '../../src/delivery';
import type { Notification, TableRow } from '../../src/notify/notification';
import type { ChatProvider, Target } from '../../src/notify/provider';
import type { SlackAppPayload } from '../../src/notify/providers/slackApp';
import type { TeamsPayload } from '../../src/notify/teams/card';
import { splitLogs } from '../../src/notify/providers/teamsApp/replies';
import type { TeamsAppPayload } from '../../src/notify/providers/teamsApp/state';
import { PROVIDERS } from '../../src/notify/registry';
import type { SlackPayload } from '../../src/notify/slack/blocks';
import type { Journey } from '../../src/pipeline/context';
import { deliveryContext } from '../../src/pipeline/deliveryContext';
import { cardProblems } from '../support/cards';
import { checkSlackPayload, checkTeams, HOSTILE, MARK } from '../support/rendering';
import { harness, setUpStack, stack, tearDownStack, unique } from '../support/stack';

before(setUpStack);
after(tearDownStack);

// The new kind: what it reports, in our own types.

type Action = 'upgrade' | 'drain' | 'restart' | 'no action';

interface AffectedCluster {
  /** A cluster's name as ARM validates it. */
  name: string;
  region: string;
  /** Our word for what is planned. */
  action: Action;
  /** What an operator wrote about this cluster: untrusted. */
  note: string;
}

interface MaintenanceNotice {
  id: string;
  /** Our own words. */
  title: string;
  window: { start: string; end: string };
  /** What a person wrote for everyone: untrusted. */
  announcement: string;
  clusters: AffectedCluster[];
  /** The steps to follow, as long as they are: untrusted, for a thread. */
  runbook: string;
}

const ACTION_MARK: Record<Action, string> = { upgrade: '⬆️', drain: '🚧', restart: '🔁', 'no action': '➖' };

/** The notice as the channel-neutral message: the kind's one builder, the only code a new kind needs. */
function maintenanceMessage(notice: MaintenanceNotice): Notification {
  // What needs doing first, so that a channel short of room shows it and counts the clusters left alone.
  const ordered = [...notice.clusters].sort(
    (a, b) => Number(a.action === 'no action') - Number(b.action === 'no action'),
  );
  const planned = ordered.filter((c) => c.action !== 'no action');
  const emoji = '🛠️';
  const headline = `Maintenance: ${notice.title}`;
  return {
    ref: { id: notice.id, about: 'maintenance', name: `maintenance/${notice.id}` },
    final: true,
    alert: false,
    tone: 'warning',
    emoji,
    headline,
    summary: `${emoji} ${headline} (${planned.length} clusters, from ${notice.window.start})`,
    lead: `${planned.length} of ${notice.clusters.length} clusters have planned work`,
    facts: [
      { title: 'Notice', value: notice.id },
      { title: 'Window starts', value: notice.window.start },
      { title: 'Window ends', value: notice.window.end },
      { title: 'Clusters', value: String(notice.clusters.length) },
    ],
    sections: [{ label: 'Announcement', untrusted: notice.announcement, max: 1500, trim: 'announcement' }],
    context: { untrusted: [['announced by', `${MARK} <!here> ops@example.com`]], maxEntries: 1, maxValue: 150 },
    table: {
      columns: [
        { title: 'CLUSTER' },
        { title: 'REGION' },
        { title: 'ACTION' },
        { title: 'NOTE', untrusted: true, max: 120 },
      ],
      rows: ordered.map((c): TableRow => ({
        mark: ACTION_MARK[c.action],
        cells: [c.name, c.region, c.action, c.note],
        quiet: c.action === 'no action',
      })),
      quietWord: 'unaffected',
    },
    logs: { untrusted: notice.runbook, title: 'Runbook', inline: false, fileName: `maintenance-${notice.id}.txt` },
    links: [
      {
        title: 'Open the maintenance calendar',
        hint: 'in the wiki',
        url: `https://wiki.example.com/maintenance/${notice.id}`,
      },
    ],
    minimalNote: `Planned work on: ${planned.map((c) => c.name).join(', ')}`,
    trimOrder: ['context', 'announcement'],
  };
}

/** What delivery carries: the message for a chat channel, the notice itself for a data channel. */
function maintenanceOutgoing(notice: MaintenanceNotice): Outgoing {
  return {
    message: maintenanceMessage(notice),
    report: {
      type: 'maintenance.notice',
      subject: notice.id,
      time: notice.window.start,
      final: true,
      failure: false,
      data: notice,
    },
  };
}

// A notice of the hostile kind.

const REGIONS = ['westeurope', 'eastus2', 'japaneast', 'brazilsouth'];
const ACTIONS: Action[] = ['upgrade', 'no action', 'drain', 'no action', 'restart'];
const CLUSTER_COUNT = 160;

function hostileNotice(): MaintenanceNotice {
  const id = randomBytes(8).toString('hex');
  const clusters = Array.from({ length: CLUSTER_COUNT }, (_, i): AffectedCluster => {
    const region = REGIONS[i % REGIONS.length]!;
    return {
      // Same width, so that no name is a prefix of another.
      name: `aks-${region.slice(0, 3)}-${String(i).padStart(3, '0')}`,
      region,
      action: ACTIONS[i % ACTIONS.length]!,
      note: i % 3 === 0 ? `${MARK}${'`'.repeat(200)}` : `${MARK} ${HOSTILE.replace(/\n/g, ' ')} ${'é'.repeat(i % 40)}`,
    };
  });
  const runbook = Array.from(
    { length: 1400 },
    (_, i) => `step ${i}: ${MARK} ${HOSTILE.split('\n')[i % 8]} drain, wait, check ${'.'.repeat(i % 30)}\n`,
  ).join('');
  return {
    id,
    title: 'Kubernetes 1.33 node image rollout',
    window: { start: '2026-12-05T22:00:00Z', end: '2026-12-06T04:00:00Z' },
    announcement: `${MARK} Dear all,\n${HOSTILE}\n${'Please read the runbook before the window. '.repeat(80)}`,
    clusters,
    runbook,
  };
}

const asText = (v: unknown) => JSON.stringify(v);

/**
 * The table as a channel shows it: which rows (by name) appear, which must be the first ones in order, and
 * the count of the rest, with how many of those are quiet, in our own words.
 */
function checkTable(shownIn: string, message: Notification, channel: string, titled: boolean): void {
  const rows = message.table!.rows;
  const names = rows.map((r) => r.cells[0]!);
  const shown = names.filter((n) => shownIn.includes(n));
  assert.ok(shown.length > 0, `${channel}: the table shows some rows`);
  assert.deepEqual(shown, names.slice(0, shown.length), `${channel}: the first rows, in the message's order`);
  const rest = rows.slice(shown.length);
  assert.ok(rest.length > 0, `${channel}: ${CLUSTER_COUNT} rows cannot all be shown`);
  const quiet = rest.filter((r) => r.quiet).length;
  assert.ok(quiet > 0);
  assert.ok(
    shownIn.includes(`… and ${rest.length} more not shown (${quiet} of them unaffected)`),
    `${channel}: the rows not shown are counted`,
  );
  // Slack shows the table as monospaced text under its column titles; a card (1.4 has no table) a block per row.
  if (titled) assert.match(shownIn, /CLUSTER +REGION +ACTION +NOTE/, `${channel}: the column titles`);
}

/** A Slack message as the API stand-in keeps it, in the webhook payload's shape. */
const slackShape = (m: { text?: string; blocks?: unknown[] }): SlackPayload => ({
  text: m.text ?? '',
  blocks: (m.blocks ?? []) as SlackPayload['blocks'],
  unfurl_links: false,
  unfurl_media: false,
});

/** The runbook's text a reply carries. */
const replyText = (a: TeamsActivity) => String(a.attachments?.[0]?.content?.body?.[1]?.inlines?.[0]?.text ?? '');

describe('a report kind added from a test file alone', () => {
  it('delivers a maintenance notice through every shipped chat channel, within each limit, untrusted text inert', async () => {
    const started = performance.now();
    const hook = unique('ch');
    const slackChannel = `C${randomBytes(5).toString('hex').toUpperCase()}`;
    const token = `xoxb-${randomBytes(6).toString('hex')}-${randomBytes(10).toString('hex')}`;
    const bot = stack().slackApi.addBot(token, [slackChannel]);
    const teamsChannel = `19:${randomBytes(16).toString('hex')}@thread.tacv2`;
    stack().bot.addChannel(teamsChannel);
    const h = await harness({
      SLACK_WEBHOOK_URL: '',
      TEAMS_WEBHOOK_URL: '',
      WEBHOOK_TIMEOUT_SECONDS: '5',
      NOTIFY_TARGETS: 'hook,app,card,bot',
      NOTIFY_TARGET_HOOK_KIND: 'slack',
      NOTIFY_TARGET_HOOK_URL: stack().receivers.urlFor('slack', hook),
      NOTIFY_TARGET_APP_KIND: 'slack-app',
      NOTIFY_TARGET_APP_CHANNEL: slackChannel,
      NOTIFY_TARGET_APP_TOKEN: token,
      NOTIFY_TARGET_CARD_KIND: 'teams',
      NOTIFY_TARGET_CARD_URL: stack().receivers.urlFor('teams', hook),
      NOTIFY_TARGET_BOT_KIND: 'teams-app',
      NOTIFY_TARGET_BOT_CHANNEL: teamsChannel,
      NOTIFY_TARGET_BOT_SERVICE_URL: stack().bot.url,
    });
    // Configured as every target is.
    const targets: Target[] = loadConfig(h.env).targets;
    assert.deepEqual(
      targets.map((t) => [t.name, t.kind]),
      [
        ['hook', 'slack'],
        ['app', 'slack-app'],
        ['card', 'teams'],
        ['bot', 'teams-app'],
      ],
    );
    const chatKinds = PROVIDERS.filter((p) => p.takes !== 'report').map((p) => p.kind);
    assert.deepEqual([...targets.map((t) => t.kind)].sort(), [...chatKinds].sort(), 'one target of every chat kind');

    const notice = hostileNotice();
    const outgoing = maintenanceOutgoing(notice);
    const { message } = outgoing;
    // The notice's own partition in the ledger, its targets registered as a command's are.
    const key = createHash('sha256').update(`maintenance|${notice.id}`).digest('hex');
    const now = Date.now();
    const registered = await h.rt.ledger.register(
      key,
      {
        clusterResourceId: '',
        commandId: notice.id,
        firstSeenAt: new Date(now).toISOString(),
        deadlineAt: new Date(now + 3600_000).toISOString(),
        pollLeaseMs: 0,
      },
      targets.map((t) => ({ name: t.name })),
    );
    assert.equal(registered.targets.length, 4);

    // The app's own delivery context (cooldowns, the shared pacer in Azurite, the identity's tokens).
    const lines: string[] = [];
    const log: Log = {
      info: (m) => lines.push(`info ${m}`),
      warn: (m) => lines.push(`warn ${m}`),
      error: (m) => lines.push(`error ${m}`),
    };
    const journey: Journey = {
      raw: notice,
      meta: {},
      deps: h.rt.deps,
      log,
      label: `maintenance ${notice.id}`,
      key,
      targets,
      book: { attempt: 0 },
      firstSeenMs: now,
      deadlineMs: now + 3600_000,
      serialize: (book) => JSON.stringify({ notice: notice.id, book }),
    };
    const ctx = deliveryContext(journey, false);
    const results = await Promise.all(
      targets.map((t) =>
        deliverTarget(
          t,
          registered.targets.find((r) => r.name === t.name)!,
          registered.serverNow,
          outgoing,
          ctx,
        ),
      ),
    );
    assert.deepEqual(
      results.map((r) => [r.target, r.status, r.status === 'delivered' ? r.form : JSON.stringify(r)]),
      targets.map((t) => [t.name, 'delivered', 'full']),
      lines.join('\n'),
    );
    assert.deepEqual(
      (await h.rt.ledger.load(key)).targets.map((t) => [t.name, t.state, t.form]).sort(),
      targets.map((t) => [t.name, 'delivered', 'full']).sort(),
    );

    // The Slack webhook: one payload, within every Block Kit limit, inert; the table cut and counted.
    const [slackHook, ...moreHook] = stack().receivers.for('slack', hook);
    assert.equal(moreHook.length, 0, 'one Slack post');
    const sp = slackHook!.body as SlackPayload;
    assert.equal(slackPayloadProblem(sp), undefined);
    checkSlackPayload(sp, []);
    checkTable(asText(sp.blocks), message, 'slack', true);
    assert.ok(!sp.text.includes(MARK), 'no untrusted text in the notification text');
    assert.ok(asText(sp.blocks).includes(MARK), 'the announcement and notes are shown, as inert text');
    assert.ok(asText(sp.blocks).includes('Open the maintenance calendar'));

    // The Slack app: one message, within limits, its metadata naming the notice; the runbook whole in its thread.
    const [appMessage, ...moreApp] = stack().slackApi.inChannel(slackChannel);
    assert.equal(moreApp.length, 0, 'one Slack app message');
    assert.equal(appMessage!.botId, bot.botId);
    assert.equal(appMessage!.versions.length, 1, 'posted once, final');
    const ap = slackShape(appMessage!);
    assert.equal(slackPayloadProblem(ap), undefined);
    checkSlackPayload(ap, []);
    checkTable(asText(ap.blocks), message, 'slack-app', true);
    assert.match(asText(ap.blocks), /Runbook: in thread/);
    assert.deepEqual(appMessage!.metadata?.event_payload, {
      command_id: notice.id,
      cluster: 'maintenance',
      target: 'app',
    });
    assert.equal(appMessage!.files.length, 1, 'the runbook as one file');
    const file = appMessage!.files[0]!;
    assert.equal(file.name, `maintenance-${notice.id}.txt`);
    assert.equal(file.threadTs, appMessage!.ts, "in the message's thread");
    assert.ok(file.bytes.equals(Buffer.from(notice.runbook, 'utf8')), 'byte for byte the runbook');

    // The Teams webhook: one valid Adaptive Card 1.4 within 24 KB, untrusted text only in TextRuns.
    const [teamsHook, ...moreTeams] = stack().receivers.for('teams', hook);
    assert.equal(moreTeams.length, 0, 'one Teams post');
    assert.ok(teamsHook!.bytes < TEAMS_MAX_REQUEST_BYTES);
    const tp = teamsHook!.body as TeamsPayload;
    checkTeams(tp);
    checkTable(asText(tp), message, 'teams', false);
    assert.ok(asText(tp).includes(MARK), 'the announcement and notes are shown, in TextRuns');

    // The Teams app: one card, a new thread, valid and within limits; the runbook whole in replies.
    const [card, ...moreCards] = stack().bot.inChannel(teamsChannel);
    assert.equal(moreCards.length, 0, 'one Teams app card');
    assert.equal(card!.versions.length, 1, 'posted once, final');
    const cp = card!.versions[0]! as unknown as TeamsPayload;
    checkTeams(cp);
    checkTable(asText(cp), message, 'teams-app', false);
    assert.match(asText(cp), /Runbook: in this thread/);
    const { parts, omittedBytes } = splitLogs(notice.runbook);
    assert.equal(omittedBytes, 0);
    assert.ok(parts.length > 1, 'several replies');
    assert.equal(card!.replies.length, parts.length);
    for (const reply of card!.replies) {
      assert.equal(reply.replyToId, card!.activityId, "in the card's thread");
      assert.ok(
        Buffer.byteLength(JSON.stringify(reply), 'utf8') <= BOT_MESSAGE_MAX_BYTES,
        'within the bot message limit',
      );
      assert.deepEqual(cardProblems(reply.attachments![0]!.content), []);
    }
    assert.equal(card!.replies.map(replyText).join(''), notice.runbook, 'the runbook byte for byte in the thread');

    console.log(`# delivered to 4 channels in ${Math.round(performance.now() - started)} ms`);
  });

  it("renders the new kind's minimal form within every shipped chat channel's limits", () => {
    const message = maintenanceMessage(hostileNotice());
    const checks: Record<string, (payload: unknown) => string> = {
      slack: (p) => {
        checkSlackPayload(p as SlackPayload, []);
        return asText(p);
      },
      'slack-app': (p) => {
        const app = p as SlackAppPayload;
        checkSlackPayload(app.message, []);
        assert.equal(app.file?.content, message.logs!.untrusted, 'the runbook still goes to the thread');
        return asText(app.message);
      },
      teams: (p) => {
        checkTeams(p as TeamsPayload);
        return asText(p);
      },
      'teams-app': (p) => {
        const app = p as TeamsAppPayload;
        checkTeams(app.card);
        assert.equal(app.replies?.parts.join(''), message.logs!.untrusted, 'the runbook still goes to the thread');
        return asText(app.card);
      },
    };
    const chat = PROVIDERS.filter((p): p is ChatProvider => p.takes !== 'report');
    assert.deepEqual(chat.map((p) => p.kind).sort(), Object.keys(checks).sort(), 'every shipped chat channel');
    for (const provider of chat) {
      const shown = checks[provider.kind]!(provider.render(message, { includeLogs: true, target: 'ops' }, 'minimal'));
      assert.ok(shown.includes('Planned work on: aks-'), `${provider.kind}: the minimal note`);
      assert.ok(!shown.includes(MARK), `${provider.kind}: no untrusted text in the minimal form`);
      assert.ok(!shown.includes('NOTE'), `${provider.kind}: no table in the minimal form`);
    }
  });
});
