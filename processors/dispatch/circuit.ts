/**
 * A circuit breaker per provider, shared by every instance through Redis: each send's result (and
 * its latency) goes into a sliding window; when enough of the window's calls failed or were slow,
 * the circuit opens and routing skips the provider; after `openMs` one caller, and only one, gets
 * to probe it (half-open); the probe's success closes the circuit, its failure opens it again.
 *
 * Transitions happen inside Lua scripts, so among any number of instances exactly one sees each
 * one (and appends it as an event: lib/.. notify.provider-health.v1, by the caller). The state is
 * operational, not a fold of the topics: after Redis lost it every circuit starts closed, which
 * costs at most `minCalls` failed attempts per provider before it opens again.
 */
import { randomUUID } from 'node:crypto';
import { runScript, type Redis } from '../../lib/redis.ts';

export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitPolicy {
  /** The sliding window results are counted over. */
  readonly windowMs: number;
  /** Fewer calls than this in the window never open the circuit. */
  readonly minCalls: number;
  /** Share of failed or slow calls in the window that opens it. */
  readonly failureRate: number;
  /** A call slower than this counts as a failure (a provider that hangs is not healthy). */
  readonly slowMs: number;
  /** How long an open circuit refuses calls before one probe is let through. */
  readonly openMs: number;
  /** How long a probe may take before another caller may probe instead. */
  readonly probeMs: number;
}

export const DEFAULT_CIRCUIT_POLICY: CircuitPolicy = { windowMs: 30_000, minCalls: 4, failureRate: 0.5, slowMs: 5_000, openMs: 10_000, probeMs: 15_000 };

/** A change of a circuit's state, as seen by the one caller that made it. */
export interface CircuitTransition {
  readonly provider: string;
  readonly from: CircuitState;
  readonly to: CircuitState;
  readonly at: number;
  /** Calls and failures in the window when it changed. */
  readonly calls: number;
  readonly failures: number;
}

/** Whether a call may go to the provider now; `probe` when this caller is the half-open probe. */
export type Admission = { readonly allowed: true; readonly probe: boolean; readonly transition: CircuitTransition | null } | { readonly allowed: false; readonly state: CircuitState };

// KEYS: state hash, window of all calls, window of failures. ARGV: now, probeMs, holder.
const ADMIT = `
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
local now = tonumber(ARGV[1])
if state == 'closed' then return {'closed', '0', ''} end
if state == 'open' then
  if now < tonumber(redis.call('HGET', KEYS[1], 'until') or '0') then return {'open', '0', ''} end
  redis.call('HSET', KEYS[1], 'state', 'half_open', 'probe', ARGV[3], 'probe_until', now + tonumber(ARGV[2]), 'since', now)
  return {'half_open', '1', 'open'}
end
if now >= tonumber(redis.call('HGET', KEYS[1], 'probe_until') or '0') then
  redis.call('HSET', KEYS[1], 'probe', ARGV[3], 'probe_until', now + tonumber(ARGV[2]))
  return {'half_open', '1', ''}
end
return {'half_open_busy', '0', ''}`;

// KEYS: state hash, window of all calls, window of failures.
// ARGV: now, ok (1/0), member, windowMs, minCalls, failureRate, openMs, holder.
const RECORD = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - window)
redis.call('ZADD', KEYS[2], now, ARGV[3])
if ARGV[2] == '0' then redis.call('ZADD', KEYS[3], now, ARGV[3]) end
redis.call('PEXPIRE', KEYS[2], window * 2)
redis.call('PEXPIRE', KEYS[3], window * 2)
local calls = redis.call('ZCARD', KEYS[2])
local failures = redis.call('ZCARD', KEYS[3])
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
if state == 'half_open' then
  if redis.call('HGET', KEYS[1], 'probe') ~= ARGV[8] then return {'', calls, failures} end
  if ARGV[2] == '1' then
    redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
    return {'half_open>closed', 0, 0}
  end
  redis.call('HSET', KEYS[1], 'state', 'open', 'until', now + tonumber(ARGV[7]), 'since', now)
  redis.call('HDEL', KEYS[1], 'probe', 'probe_until')
  return {'half_open>open', calls, failures}
end
if state == 'closed' and calls >= tonumber(ARGV[5]) and failures >= calls * tonumber(ARGV[6]) then
  redis.call('HSET', KEYS[1], 'state', 'open', 'until', now + tonumber(ARGV[7]), 'since', now)
  return {'closed>open', calls, failures}
end
return {'', calls, failures}`;

export interface CircuitStatus {
  readonly provider: string;
  readonly state: CircuitState;
  readonly since: number | null;
  /** When an open circuit lets a probe through. */
  readonly openUntil: number | null;
  readonly calls: number;
  readonly failures: number;
}

export class CircuitBreakers {
  private readonly redis: Redis;
  private readonly policy: CircuitPolicy;
  /** This instance's identity as a probe holder. */
  private readonly holder = randomUUID();

  constructor(redis: Redis, policy: CircuitPolicy = DEFAULT_CIRCUIT_POLICY) {
    this.redis = redis;
    this.policy = policy;
  }

  private keys(provider: string): [string, string, string] {
    return [`circuit:${provider}`, `circuit:${provider}:calls`, `circuit:${provider}:failures`];
  }

  /** Asks to call `provider` now (an open circuit past its time lets this caller probe). */
  async admit(provider: string, now = Date.now()): Promise<Admission> {
    const [state, probe, from] = (await runScript(this.redis, ADMIT, 3, ...this.keys(provider), String(now), String(this.policy.probeMs), this.holder)) as [string, string, string];
    if (probe === '1') {
      return { allowed: true, probe: true, transition: from === 'open' ? { provider, from: 'open', to: 'half_open', at: now, calls: 0, failures: 0 } : null };
    }
    if (state === 'closed') return { allowed: true, probe: false, transition: null };
    return { allowed: false, state: state === 'open' ? 'open' : 'half_open' };
  }

  /** Records a call's result; a transition when this result changed the circuit's state. */
  async record(provider: string, ok: boolean, latencyMs: number, now = Date.now()): Promise<CircuitTransition | null> {
    const healthy = ok && latencyMs <= this.policy.slowMs;
    const p = this.policy;
    const [change, calls, failures] = (await runScript(
      this.redis,
      RECORD,
      3,
      ...this.keys(provider),
      String(now),
      healthy ? '1' : '0',
      `${now}:${randomUUID()}`,
      String(p.windowMs),
      String(p.minCalls),
      String(p.failureRate),
      String(p.openMs),
      this.holder,
    )) as [string, number, number];
    if (!change) return null;
    const [from, to] = change.split('>') as [CircuitState, CircuitState];
    return { provider, from, to, at: now, calls, failures };
  }

  async status(provider: string, now = Date.now()): Promise<CircuitStatus> {
    const [stateKey, callsKey, failuresKey] = this.keys(provider);
    const since = now - this.policy.windowMs;
    const [[, h], [, calls], [, failures]] = (await this.redis
      .multi()
      .hgetall(stateKey)
      .zcount(callsKey, `(${since}`, '+inf')
      .zcount(failuresKey, `(${since}`, '+inf')
      .exec()) as [[unknown, Record<string, string>], [unknown, number], [unknown, number]];
    const state = (h.state ?? 'closed') as CircuitState;
    return {
      provider,
      state,
      since: h.since ? Number(h.since) : null,
      openUntil: state === 'open' && h.until ? Number(h.until) : null,
      calls,
      failures,
    };
  }
}
