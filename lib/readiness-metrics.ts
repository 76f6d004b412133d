/**
 * eventline_dependency_up{dependency}: whether each dependency of the readiness check (Kafka, the
 * schema registry, Postgres, Redis) answered when GET /metrics last asked (at most every 5 s). It
 * runs the same checks as GET /readyz, so an alert sees a broker or registry outage even while no
 * request fails on it (no webhook traffic, no consumer batch).
 *
 * A registry per HTTP app, like the business metrics: two apps of one process (tests) never report
 * each other's dependencies.
 */
import client from 'prom-client';

export class ReadinessMetrics {
  readonly registry = new client.Registry();
  private readonly up = new client.Gauge({
    name: 'eventline_dependency_up',
    help: '1 if the dependency answered its readiness check (2 s timeout) when /metrics last asked (at most every 5 s), else 0.',
    labelNames: ['dependency'] as const,
    registers: [this.registry],
  });

  /** Replaces every series: the dependencies are the readiness checks' names, a bounded set. */
  record(answered: Readonly<Record<string, boolean>>): void {
    this.up.reset();
    for (const [dependency, ok] of Object.entries(answered)) this.up.set({ dependency }, ok ? 1 : 0);
  }
}
