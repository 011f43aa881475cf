// The next run of an NCRONTAB schedule ("sec min hour * * *", each of sec/min/hour a number, "*" or "*/N"),
// the forms this app's timers use, so that the worker fires them when the Functions host would.

function field(spec: string, max: number): (v: number) => boolean {
  if (spec === '*') return () => true;
  const step = /^\*\/(\d+)$/.exec(spec);
  if (step) return (v) => v % Number(step[1]) === 0;
  if (/^\d+$/.test(spec) && Number(spec) <= max) return (v) => v === Number(spec);
  throw new Error(`unsupported schedule field: ${spec}`);
}

export function nextRun(schedule: string, nowMs: number): number {
  const parts = schedule.trim().split(/\s+/);
  if (parts.length !== 6 || parts.slice(3).some((p) => p !== '*') || !/^\d+$/.test(parts[0]!)) {
    throw new Error(`only "sec min hour * * *" schedules are supported: ${schedule}`);
  }
  const second = Number(parts[0]);
  const minute = field(parts[1]!, 59);
  const hour = field(parts[2]!, 23);
  const t = new Date(nowMs);
  t.setUTCSeconds(second, 0);
  if (t.getTime() <= nowMs) t.setUTCMinutes(t.getUTCMinutes() + 1);
  for (let i = 0; i < 2 * 24 * 60; i++) {
    if (minute(t.getUTCMinutes()) && hour(t.getUTCHours())) return t.getTime();
    t.setUTCMinutes(t.getUTCMinutes() + 1);
  }
  throw new Error(`no run within two days: ${schedule}`);
}
