// The next run of a daily NCRONTAB schedule ("sec min hour * * *"), the only form this app's timers use,
// so that the worker fires them when the Functions host would.

export function nextDailyRun(schedule: string, nowMs: number): number {
  const m = /^(\d{1,2}) (\d{1,2}) (\d{1,2}) \* \* \*$/.exec(schedule.trim());
  if (!m) throw new Error(`only daily schedules ("s m h * * *") are supported: ${schedule}`);
  const [sec, min, hour] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const next = new Date(nowMs);
  next.setUTCHours(hour, min, sec, 0);
  if (next.getTime() <= nowMs) next.setUTCDate(next.getUTCDate() + 1);
  return next.getTime();
}
