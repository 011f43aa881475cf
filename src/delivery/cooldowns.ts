// Per-process memory of channels that asked us to wait (429 + Retry-After): every command bound for that
// channel waits too, instead of hammering it (Slack disables apps that keep sending while limited).
export class Cooldowns {
  private readonly until = new Map<string, number>();
  constructor(private readonly monotonic: () => number) {}
  set(target: string, waitMs: number): void {
    const end = this.monotonic() + waitMs;
    if ((this.until.get(target) ?? 0) < end) this.until.set(target, end);
  }
  remainingMs(target: string): number {
    const end = this.until.get(target);
    if (end === undefined) return 0;
    const left = end - this.monotonic();
    if (left <= 0) this.until.delete(target);
    return Math.max(0, left);
  }
}
