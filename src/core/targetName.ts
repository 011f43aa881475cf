// A notification target's name, as NOTIFY_TARGETS declares it and a message names it: 1-32 lowercase letters,
// digits or inner hyphens (it becomes part of setting names and ledger row keys).
export const TARGET_NAME = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;
