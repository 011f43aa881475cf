// A fleet run, as one module plugged into the command path: the command path reaches it here only.
//
//   chain.ts       a declaration or a summary request: record the group, tick, settle and deliver its summary
//   declare.ts     the group as its first declaration recorded it (a differing one is refused)
//   notStarted.ts  the CLI's word that a member could not be started
//   member.ts      a member's side: its tracking message joins the group, its result goes to the summary
//   scope.ts       which targets hear of the group, against what the ledger recorded
//   summary.ts     the group's end and its one settled summary
//
// The decisions it makes are pure, in core/group.ts (counts, scope, the summary) and core/groupMessage.ts
// (the messages); the CLI starts a run with cli/fleet.ts.
export { handleGroupMessage } from './chain';
export { joinGroup, reportToGroup, toldByGroup } from './member';
