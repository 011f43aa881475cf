// The OpenTelemetry SDK behind the app's telemetry. Loaded lazily (its own bundle, dist/function/telemetry.js)
// so that neither a cold start nor a local run pays for it unless it is configured.
//
// In Azure: metrics and one span per message go to Application Insights through the Azure Monitor exporter,
// authenticated with the app's own identity (Entra ID; the component has local auth off, the identity holds
// Monitoring Metrics Publisher). We use the exporter with the SDK directly rather than the
// @azure/monitor-opentelemetry distro: the distro adds HTTP, database and logging instrumentations this app
// does not need (its calls to ARM, Storage and webhooks are already logged by the host), and its start-up
// cost; the exporter is the one the distro uses. The host keeps its own Application Insights logging
// (host.json), so the app's log lines still arrive as traces.
import { metrics, trace } from '@opentelemetry/api';
import { AzureMonitorMetricExporter, AzureMonitorTraceExporter } from '@azure/monitor-opentelemetry-exporter';
import { ManagedIdentityCredential, DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  MeterProvider,
  MetricReader,
  PeriodicExportingMetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

const SERVICE_NAME = 'aks-command-notifier';
const TELEMETRY_KEY = Symbol.for('aks-command-notifier.telemetry');

export interface TelemetryHandle {
  shutdown(): Promise<void>;
  flush(): Promise<void>;
}

function resource() {
  return resourceFromAttributes({ 'service.name': SERVICE_NAME, 'service.namespace': 'aks' });
}

/** Application Insights, with Entra authentication as the app's identity. */
export function setupAzureMonitor(options: {
  connectionString: string;
  clientId?: string;
  credential?: TokenCredential;
  exportIntervalMs?: number;
}): TelemetryHandle {
  const credential =
    options.credential ??
    (options.clientId ? new ManagedIdentityCredential({ clientId: options.clientId }) : new DefaultAzureCredential());
  const exporterOptions = { connectionString: options.connectionString, credential };
  const meterProvider = new MeterProvider({
    resource: resource(),
    readers: [
      new PeriodicExportingMetricReader({
        exporter: new AzureMonitorMetricExporter(exporterOptions),
        exportIntervalMillis: options.exportIntervalMs ?? 60_000,
      }),
    ],
  });
  // Every message span is kept: the host samples its own traces (host.json), never these.
  const tracerProvider = new BasicTracerProvider({
    resource: resource(),
    sampler: new AlwaysOnSampler(),
    spanProcessors: [new BatchSpanProcessor(new AzureMonitorTraceExporter(exporterOptions))],
  });
  metrics.setGlobalMeterProvider(meterProvider);
  trace.setGlobalTracerProvider(tracerProvider);
  const handle: TelemetryHandle = {
    flush: async () => {
      await Promise.all([meterProvider.forceFlush(), tracerProvider.forceFlush()]);
    },
    shutdown: async () => {
      await Promise.all([meterProvider.shutdown(), tracerProvider.shutdown()]);
    },
  };
  (globalThis as Record<symbol, unknown>)[TELEMETRY_KEY] = handle;
  return handle;
}

/** A reader that collects when asked: the worker's summary and the tests read metrics through it. */
export class OnDemandMetricReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
  async read(): Promise<ResourceMetrics> {
    const { resourceMetrics, errors } = await this.collect();
    if (errors.length > 0) throw errors[0];
    return resourceMetrics;
  }
}

export interface MetricPoint {
  name: string;
  attributes: Record<string, unknown>;
  /** Counters and gauges: the value; histograms: count, sum, min, max. */
  value: number | { count: number; sum: number; min?: number; max?: number };
}

/** Flattens what a reader collected into one row per metric and attribute set. */
export function metricPoints(rm: ResourceMetrics): MetricPoint[] {
  const out: MetricPoint[] = [];
  for (const scope of rm.scopeMetrics) {
    for (const metric of scope.metrics) {
      for (const dp of metric.dataPoints as { attributes: Record<string, unknown>; value: unknown }[]) {
        const v = dp.value as number | { count: number; sum: number; min?: number; max?: number };
        out.push({
          name: metric.descriptor.name,
          attributes: dp.attributes,
          value:
            typeof v === 'number'
              ? v
              : {
                  count: v.count,
                  sum: v.sum,
                  ...(v.min !== undefined ? { min: v.min } : {}),
                  ...(v.max !== undefined ? { max: v.max } : {}),
                },
        });
      }
    }
  }
  return out;
}

/** For the worker: metrics kept in this process, summarised when it stops. */
export function setupLocalMetrics(): { reader: OnDemandMetricReader; points(): Promise<MetricPoint[]> } {
  const reader = new OnDemandMetricReader();
  metrics.setGlobalMeterProvider(new MeterProvider({ resource: resource(), readers: [reader] }));
  return { reader, points: async () => metricPoints(await reader.read()) };
}

/** A table of the metrics, for people: one line per metric and attribute set. */
export function formatMetrics(points: MetricPoint[]): string {
  const rows = points.map((p) => {
    const attrs = Object.entries(p.attributes)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ');
    const value =
      typeof p.value === 'number'
        ? String(p.value)
        : `count ${p.value.count}, mean ${(p.value.sum / Math.max(1, p.value.count)).toFixed(1)}, max ${p.value.max?.toFixed(1) ?? '?'}`;
    return `  ${p.name}${attrs ? ` {${attrs}}` : ''}: ${value}`;
  });
  return rows.sort().join('\n');
}
