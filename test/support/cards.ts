// Adaptive Card validation with Microsoft's own SDK (parses without a DOM), targeting version 1.4:
// Workflows answers 202 and fails later, so an invalid card would be a silent loss.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const AC = require('adaptivecards/dist/adaptivecards.js') as {
  AdaptiveCard: new () => {
    parse(json: unknown, ctx: unknown): void;
    validateProperties(): { validationEvents: { message: string }[] };
  };
  SerializationContext: new (version: unknown) => { eventCount: number; getEventAt(i: number): { message: string } };
  Versions: { v1_4: unknown };
};

export function cardProblems(card: unknown): string[] {
  const problems: string[] = [];
  if ((card as { version?: string }).version !== '1.4') problems.push('version must be 1.4');
  const ac = new AC.AdaptiveCard();
  const ctx = new AC.SerializationContext(AC.Versions.v1_4);
  try {
    ac.parse(card, ctx);
  } catch (err) {
    return [...problems, `parse threw: ${(err as Error).message}`];
  }
  for (let i = 0; i < ctx.eventCount; i++) problems.push(ctx.getEventAt(i).message);
  problems.push(...ac.validateProperties().validationEvents.map((e) => e.message));
  return problems;
}
