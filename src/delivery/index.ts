// Delivery: getting one report to one target at most once, for every channel alike — claim the target in
// the ledger, keep to the channel's pace and its Retry-After, send through its provider (notify/), and
// record what happened under the claim. This is the folder's one entry: the pipeline, the fleet and the
// tests reach delivery through it, and notify/ (the message and the channels) knows nothing of it.
export type { DeliveryContext, TargetResult } from './context';
export { Cooldowns } from './cooldowns';
export { deliverTarget } from './deliverTarget';
export { recordSentNote } from './records';
