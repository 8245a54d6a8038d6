import { Counter, Gauge, Histogram, Registry as PromRegistry, collectDefaultMetrics } from 'prom-client';
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

  constructor(proxies: () => ReadonlyMap<string, { readonly format: string; readonly stats: () => ProxyStats }>) {
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
    collectDefaultMetrics({ register: this.registry });
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

  /** The exposition text and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
