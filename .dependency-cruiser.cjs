// The layering of src/, as rules that `npm test` checks (npm run lint:deps, dependency-cruiser): what each
// folder may import, so that the stages stay composed top to bottom and a channel stays a channel. Type-only
// imports count (the swc parser keeps them). docs/development.md ("Layout") says the same in prose.
//
//   core/        pure decisions: imports only core/ (and node's built-ins, zod)
//   notify/      the neutral message and the channels: nothing stateful (no store/, delivery/, pipeline/,
//                fleet/, settings/, queue/, the runtime); a channel (notify/providers/<kind>) imports no other
//                channel and knows no report kind (core/report, group, doctor…; notify/compose, samples); the
//                live-message engine (notify/live) knows no channel and no report kind
//   delivery/    one report to one target: never the pipeline, the fleet, the CLI or the runtime
//   fleet/, delivery/  reached from outside through their index.ts only
//   store/       the ledger and results: never what runs on top of it
//   src/         never dev/, test/ or bench/ (stand-ins and tests are not shipped)
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'An import cycle, type-only imports included: stages are composed top to bottom.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'core-imports-only-core',
      comment: 'core/ is pure: decisions that take the clock as input, tested without I/O.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { pathNot: ['^src/core/', '^node_modules/zod/'], dependencyTypesNot: ['core'] },
    },
    {
      name: 'notify-is-stateless',
      comment: 'The message and the channels hold no state: claims, records and settings are elsewhere.',
      severity: 'error',
      from: { path: '^src/notify/' },
      to: {
        path: '^src/(store|delivery|pipeline|fleet|settings|queue|cli|functions|host|telemetry|arm)/|^src/(runtime|config|index|hostSettings)[.]ts$',
      },
    },
    {
      name: 'channels-apart',
      comment: 'A channel (notify/providers/<kind>) imports no other channel: shared rendering is in notify/<family>/.',
      severity: 'error',
      from: { path: '^src/notify/providers/([^/.]+)' },
      to: { path: '^src/notify/providers/', pathNot: '^src/notify/providers/$1([./]|$)' },
    },
    {
      name: 'channels-know-no-report',
      comment: 'A channel renders the neutral message (notify/notification.ts), whatever report it carries.',
      severity: 'error',
      from: { path: '^src/notify/(providers|slack|teams|live)/' },
      to: {
        path: '^src/core/(report|group|groupWords|groupMessage|doctor|doctorMessage|message|bookkeeping|cluster|armUrl)[.]ts$|^src/notify/(compose|samples)[.]ts$',
      },
    },
    {
      name: 'live-engine-knows-no-channel',
      comment: 'The live-message engine (notify/live) is written once: a channel plugs in, never the reverse.',
      severity: 'error',
      from: { path: '^src/notify/live/' },
      to: { path: '^src/notify/(providers|slack|teams)/' },
    },
    {
      name: 'delivery-below-the-journey',
      comment: 'Delivery serves the pipeline and the fleet; it never calls back into them.',
      severity: 'error',
      from: { path: '^src/delivery/' },
      to: { path: '^src/(pipeline|fleet|cli|functions|host)/|^src/(runtime|config|index)[.]ts$' },
    },
    // A module with one entry (delivery/, fleet/): what is inside it may change.
    ...['delivery', 'fleet'].map((module) => ({
      name: `one-entry-${module}`,
      comment: `${module}/ is reached through its index.ts only.`,
      severity: 'error',
      from: { path: '^src/', pathNot: `^src/${module}/` },
      to: { path: `^src/${module}/`, pathNot: `^src/${module}/index[.]ts$` },
    })),
    {
      name: 'store-below-the-journey',
      comment: 'The ledger and the result store know nothing of what runs on top of them.',
      severity: 'error',
      from: { path: '^src/store/' },
      to: { path: '^src/(pipeline|fleet|delivery|notify|cli|functions|host)/|^src/runtime[.]ts$' },
    },
    {
      name: 'app-not-cli',
      comment: 'The function app never loads the CLI.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'ship-no-stand-ins',
      comment: 'src/ is shipped: dev/ (stand-ins), test/ and bench/ are not.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(dev|test|bench|scripts)/' },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that resolves to nothing.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    parser: 'swc',
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^node_modules/' },
  },
};
