/**
 * Endpoint-stage building blocks shared by the five analytics: the gates every one of them applies
 * (external, not browser, not sanctioned) and the evidence list that becomes the row's `reasons`.
 */
import type { AnalyticsConfig } from '../config/analytics.js';
import {
  cleartext,
  encrypted,
  groupHighThroughput,
  highThroughputFlow,
  longLived,
  noReturn,
  nonStandardPort,
  precursorInWindow,
  rawIp,
  sensitivePrecursor,
  unidentifiedUpload,
  uploadShaped,
} from './predicates.js';
import type { EndpointFacts, EndpointResult } from './types.js';

export interface Gates {
  external?: boolean;
  notBrowser?: boolean;
  notSanctioned?: boolean;
}

/** Why the common gates fail (empty when they pass). */
export function gateFailures(f: EndpointFacts, gates: Gates): string[] {
  const why: string[] = [];
  if (gates.external && !f.external) why.push('not_external');
  if (gates.notBrowser && f.browser) why.push('browser');
  if (gates.notSanctioned && f.sanctioned) why.push('sanctioned');
  return why;
}

/**
 * The endpoint checks run for every (flow, analytic) pair and most fail: their reasons collect in one
 * reused list, which result() turns into a shared failed verdict (no allocation per check). Use as
 * `const why = checkGates(f, GATES); if (...) why.push(...); return result(why, f, cfg);` and never keep `why`.
 */
class ReasonList {
  /** Slots are overwritten, never cleared: emptying a JS array (length = 0) frees its backing store. */
  private readonly slots: string[] = ['', '', '', '', '', '', '', ''];
  length = 0;

  reset(): this {
    this.length = 0;
    return this;
  }

  push(reason: string): void {
    this.slots[this.length++] = reason;
  }

  /**
   * The failed verdict for these reasons. Reasons come from a small fixed vocabulary, so each distinct
   * list gets one shared (read-only) result instead of two fresh objects per failing check.
   */
  failure(): EndpointResult {
    return this.intern(failures, false);
  }

  /**
   * The passed verdict with these reasons as its evidence, shared the same way: a generate meets a few
   * dozen distinct evidence lists over thousands of flows, and its caller can key the `reasons` text
   * on the list.
   */
  success(): EndpointResult {
    return this.intern(successes, true);
  }

  toArray(): string[] {
    return this.slots.slice(0, this.length);
  }

  private intern(root: ResultNode, pass: boolean): EndpointResult {
    let node = root;
    for (let i = 0; i < this.length; i++) {
      const reason = this.slots[i]!;
      let next = node.next.get(reason);
      if (!next) node.next.set(reason, (next = { next: new Map() }));
      node = next;
    }
    // Interned results are shared by every flow (and generate) with the same verdict: frozen so that no
    // consumer can change another flow's reasons.
    return (node.result ??= Object.freeze({ pass, reasons: Object.freeze(this.toArray()) as string[] }));
  }
}

interface ResultNode {
  result?: EndpointResult;
  next: Map<string, ResultNode>;
}

const failures: ResultNode = { next: new Map() };
const successes: ResultNode = { next: new Map() };

const scratchWhy = new ReasonList();
/** Where result() collects evidence (a list of its own: it does so while `why` is in use). */
const scratchEvidence = new ReasonList();

/** The reasons an endpoint check collects before result() (a reused list: never keep it). */
export type Why = Pick<ReasonList, 'push' | 'length'>;

/** gateFailures() into the reused list (see scratchWhy). */
export function checkGates(f: EndpointFacts, gates: Gates): Why {
  const why = scratchWhy.reset();
  if (gates.external && !f.external) why.push('not_external');
  if (gates.notBrowser && f.browser) why.push('browser');
  if (gates.notSanctioned && f.sanctioned) why.push('sanctioned');
  return why;
}

/** The primary precursor is a tier-1/2 sensitive access inside the precursor window. */
export function hasSensitivePrecursor(f: EndpointFacts, cfg: AnalyticsConfig): boolean {
  return sensitivePrecursor(f.precursor) && precursorInWindow(f.precursor.time, f.flow, cfg);
}

/** Any precursor (sensitive access or archive) inside the window. */
export function hasAnyPrecursor(f: EndpointFacts, cfg: AnalyticsConfig): boolean {
  if (f.precursor.kind !== 'none' && precursorInWindow(f.precursor.time, f.flow, cfg)) return true;
  return !!f.archive && precursorInWindow(f.archive.time, f.flow, cfg);
}

const SIGNATURE_REASONS: ReadonlyMap<string, string> = new Map(['adhoc', 'unsigned', 'invalid'].map((c) => [c, `signature_${c}`]));

/**
 * Everything true about the flow that an analyst wants to see, in a stable order. Only facts, never
 * the analytic's verdict: the same flow gets the same evidence whichever analytic emitted it.
 */
function collectEvidence(r: ReasonList, f: EndpointFacts, cfg: AnalyticsConfig): ReasonList {
  if (f.precursor.kind === 'sensitive_access' && precursorInWindow(f.precursor.time, f.flow, cfg)) {
    if (f.precursor.tier === 1) r.push('tier1_precursor');
    else if (f.precursor.tier === 2) r.push('tier2_precursor');
  }
  const archive = f.archive ?? (f.precursor.kind === 'archive' ? { time: f.precursor.time, gap: f.precursor.gap, staging: false } : null);
  if (archive && precursorInWindow(archive.time, f.flow, cfg)) {
    r.push('archive_precursor');
    if (archive.staging) r.push('staging_path');
  }
  // Close when any precursor in the window is (the primary one is the strongest, not the nearest): more
  // evidence must never lower severity, and the fleet's high floor follows this reason.
  const primaryClose = f.precursor.kind !== 'none' && f.precursor.gap <= cfg.precursor_high_gap && precursorInWindow(f.precursor.time, f.flow, cfg);
  if (primaryClose || f.closePrecursor || (archive && archive.gap <= cfg.precursor_high_gap && precursorInWindow(archive.time, f.flow, cfg))) r.push('precursor_close');
  if (uploadShaped(f.flow, cfg)) r.push('upload_shaped');
  // what lets AN0990 take a flow that is neither encrypted nor cleartext (below upload_shaped's 1 MiB, nothing else says so)
  if (unidentifiedUpload(f.flow, cfg)) r.push('unidentified_upload');
  if (noReturn(f.flow, cfg)) r.push('no_return');
  if (longLived(f.flow, cfg)) r.push('long_lived');
  if (highThroughputFlow(f.flow, cfg)) r.push('high_throughput');
  else if (groupHighThroughput(f.flow, f.groupBytesOut15m, cfg, f.groupTop)) r.push('group_high_throughput');
  if (!f.browser) r.push('non_browser');
  if (encrypted(f.flow)) r.push('encrypted');
  if (cleartext(f.flow)) r.push('cleartext');
  if (rawIp(f.flow, f.serverNameObservable ?? false)) r.push('raw_ip');
  if (nonStandardPort(f.flow)) r.push('non_standard_port');
  const signatureReason = SIGNATURE_REASONS.get(f.signatureClass);
  if (signatureReason) r.push(signatureReason);
  return r;
}

/**
 * Evidence depends only on the facts: computed once per flow however many analytics pass it. The
 * analytics of one flow are asked one after another, so remembering the last facts is enough (a WeakMap
 * entry per flow cost more than the evidence itself, mostly in GC). The flow is part of the key because a
 * caller may rewrite one facts object in place from flow to flow (egress_candidates does: no three
 * objects per flow).
 */
let memoFacts: EndpointFacts | undefined;
let memoFlow: EndpointFacts['flow'] | undefined;
let memoCfg: AnalyticsConfig | undefined;
let memoPass: EndpointResult = { pass: true, reasons: [] };

export function result(why: string[] | Why, f: EndpointFacts, cfg: AnalyticsConfig): EndpointResult {
  if (why.length) return why instanceof ReasonList ? why.failure() : { pass: false, reasons: why as string[] };
  if (memoFacts !== f || memoFlow !== f.flow || memoCfg !== cfg) {
    memoPass = collectEvidence(scratchEvidence.reset(), f, cfg).success();
    memoFacts = f;
    memoFlow = f.flow;
    memoCfg = cfg;
  }
  // Shared between the analytics that pass this flow, and with every flow of the same evidence:
  // callers read it, never mutate it.
  return memoPass;
}
