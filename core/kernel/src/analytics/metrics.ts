import { Counter, Gauge, Histogram, Registry as PromRegistry, collectDefaultMetrics } from 'prom-client';
import type { DataSource, QueryRunner } from 'typeorm';
import type { ProxyStats } from '../engine/upstream-health.js';

/** Labels of one request: bounded sets only (configured repositories, formats, methods, status classes). */
export interface RequestLabels {
  /** The configured repository, `''` for the host's own paths. */
  readonly repository: string;
  readonly format: string;
}

const METHODS = new Set(['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE', 'OPTIONS']);
const BREAKER = { closed: 0, 'half-open': 1, open: 2 } as const;

/** `2xx`, `4xx`...: a status class, never the status itself. */
const statusClass = (status: number) => `${Math.floor(status / 100)}xx`;

/**
 * The Prometheus metrics of one registry (prom-client, a registry of its own so several
 * registries in one process do not mix): requests and their latency by repository, format,
 * method and status class; cache results; bytes in and out; each proxy's upstream requests,
 * errors and circuit breaker (read from its counters at scrape time); the process's memory
 * and event-loop lag (prom-client's default metrics). Labels never carry a package name,
 * a path or a user.
 */
export class RegistryMetrics {
  readonly registry = new PromRegistry();
  private readonly requests: Counter<'repository' | 'format' | 'method' | 'status'>;
  private readonly duration: Histogram<'repository' | 'format' | 'method' | 'status'>;
  private readonly cache: Counter<'repository' | 'format' | 'result'>;
  private readonly bytesOut: Counter<'repository' | 'format'>;
  private readonly bytesIn: Counter<'repository' | 'format'>;
  private readonly upstreamDuration: Histogram<'repository' | 'format' | 'outcome'>;
  private readonly storageDuration: Histogram<'storage' | 'operation' | 'outcome'>;
  private readonly queryDuration: Histogram<'outcome'>;
  private readonly replays: Counter<'writer'>;

  constructor(
    proxies: () => ReadonlyMap<string, { readonly format: string; readonly stats: () => ProxyStats }>,
    /** Upload sessions open now (every node's), counted at scrape time. */
    openUploads?: () => Promise<number>,
  ) {
    const registers = [this.registry];
    const requestLabels = ['repository', 'format', 'method', 'status'] as const;
    this.requests = new Counter({ name: 'registry_http_requests_total', help: 'Requests answered, by repository, format, method and status class.', labelNames: requestLabels, registers });
    this.duration = new Histogram({
      name: 'registry_http_request_duration_seconds',
      help: 'Time to answer a request (until the answer starts), by repository, format, method and status class.',
      labelNames: requestLabels,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.replays = new Counter({
      name: 'registry_http_replays_total',
      help: 'Answers replayed by the hot path (a kept answer, without routing or storage), by who wrote them: "direct" straight to the socket (server.directReplies), "node" through Node\'s HTTP server.',
      labelNames: ['writer'],
      registers,
    });
    this.cache = new Counter({ name: 'registry_cache_results_total', help: 'Answers of proxies (through groups too) by cache result: HIT, MISS, STALE.', labelNames: ['repository', 'format', 'result'], registers });
    this.bytesOut = new Counter({ name: 'registry_http_response_bytes_total', help: 'Body bytes sent to clients (as announced by Content-Length).', labelNames: ['repository', 'format'], registers });
    this.bytesIn = new Counter({ name: 'registry_http_request_bytes_total', help: 'Body bytes clients sent (as announced by Content-Length).', labelNames: ['repository', 'format'], registers });
    const proxyGauge = (name: string, help: string, value: (s: ProxyStats) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['repository', 'format'],
        registers,
        collect() {
          this.reset();
          for (const [repository, proxy] of proxies()) this.set({ repository, format: proxy.format }, value(proxy.stats()));
        },
      });
    // This node's counters since it started, read at scrape time (monotonic, as counters are).
    proxyGauge('registry_upstream_requests', 'Requests this node sent to each proxy\'s upstream since it started (a counter read at scrape time).', (s) => s.upstreamRequests);
    proxyGauge('registry_upstream_errors', 'Failed upstream requests (network errors, timeouts, 5xx) of each proxy since this node started.', (s) => s.upstreamErrors);
    proxyGauge('registry_upstream_breaker_state', 'Circuit breaker of each proxy\'s upstream: 0 closed, 1 half-open, 2 open.', (s) => BREAKER[s.breaker.state]);
    const latency = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
    this.upstreamDuration = new Histogram({ name: 'registry_upstream_request_duration_seconds', help: 'Time until an upstream answered (its headers), by proxy and outcome (ok, error: 5xx or no answer).', labelNames: ['repository', 'format', 'outcome'], buckets: latency, registers });
    this.storageDuration = new Histogram({ name: 'registry_storage_operation_duration_seconds', help: 'Storage driver operations (until a stream opens), by storage, operation and outcome (ok, error).', labelNames: ['storage', 'operation', 'outcome'], buckets: latency, registers });
    this.queryDuration = new Histogram({ name: 'registry_metadata_query_duration_seconds', help: 'Metadata store queries, by outcome (ok, error).', labelNames: ['outcome'], buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5], registers });
    if (openUploads) {
      new Gauge({
        name: 'registry_open_uploads',
        help: 'Resumable upload sessions open now (OCI blob uploads), on every node.',
        registers,
        async collect() {
          this.set(await openUploads());
        },
      });
    }
    collectDefaultMetrics({ register: this.registry });
  }

  /** An observer of one proxy's upstream requests (see KernelProxyCache.observeUpstream). */
  upstreamObserver(repository: string, format: string): (seconds: number, failed: boolean) => void {
    return (seconds, failed) => this.upstreamDuration.observe({ repository, format, outcome: failed ? 'error' : 'ok' }, seconds);
  }

  /**
   * `driver` with every method that returns a promise timed (a storage driver plugin's
   * object: get, put, head, delete, list...); other members as they are.
   */
  storageDriver<T extends object>(storage: string, driver: T): T {
    const histogram = this.storageDuration;
    return new Proxy(driver, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (typeof value !== 'function' || typeof property !== 'string') return value;
        return (...args: unknown[]) => {
          const started = performance.now();
          const result = (value as (...a: unknown[]) => unknown).apply(target, args);
          if (!(result instanceof Promise)) return result;
          const done = (outcome: string) => histogram.observe({ storage, operation: property, outcome }, (performance.now() - started) / 1000);
          return result.then(
            (v) => (done('ok'), v),
            (error: unknown) => {
              done('error');
              throw error;
            },
          );
        };
      },
    });
  }

  /** Time every query of `dataSource` (each query runner's `query`, wrapped once). */
  watchDataSource(dataSource: DataSource): void {
    const histogram = this.queryDuration;
    const wrapped = new WeakSet<QueryRunner>();
    const create = dataSource.createQueryRunner.bind(dataSource);
    dataSource.createQueryRunner = (mode) => {
      const runner = create(mode);
      if (wrapped.has(runner)) return runner;
      wrapped.add(runner);
      const query = runner.query.bind(runner) as (...args: unknown[]) => Promise<unknown>;
      (runner as { query: unknown }).query = async (...args: unknown[]) => {
        const started = performance.now();
        try {
          const result = await query(...args);
          histogram.observe({ outcome: 'ok' }, (performance.now() - started) / 1000);
          return result;
        } catch (error) {
          histogram.observe({ outcome: 'error' }, (performance.now() - started) / 1000);
          throw error;
        }
      };
      return runner;
    };
  }

  /** One answered request. */
  request(labels: RequestLabels, method: string, status: number, seconds: number, bytesOut: number | undefined, bytesIn: number | undefined, cache: string | undefined): void {
    const full = { ...labels, method: METHODS.has(method) ? method : 'OTHER', status: statusClass(status) };
    this.requests.inc(full);
    this.duration.observe(full, seconds);
    if (bytesOut) this.bytesOut.inc(labels, bytesOut);
    if (bytesIn) this.bytesIn.inc(labels, bytesIn);
    if (cache === 'HIT' || cache === 'MISS' || cache === 'STALE') this.cache.inc({ ...labels, result: cache });
  }

  /** Count an answer the hot path replayed, by who wrote it. */
  replay(writer: 'direct' | 'node'): void {
    this.replays.inc({ writer });
  }

  /** The exposition text and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
