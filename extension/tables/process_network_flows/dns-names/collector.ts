import { open } from 'node:fs/promises';
import { coerceError, ToolError } from '../../../../src/errors.js';
import type { Collector, CollectorFactory, ExtensionContext } from '../../../runtime/context.js';
import { exitDetail, RestartBackoff, stderrHead } from '../../../runtime/restart-backoff.js';
import { throttledRefresh } from '../../../runtime/throttled-refresh.js';
import { ToolSupervisor, type SupervisedChild } from '../../../runtime/tool-supervisor.js';
import { killGroup, type Platform } from '../../../runtime/tools.js';
import { CaptureFormatError, CaptureStreamParser } from './parse-capture.js';
import { canonicalIp } from './decode-udp.js';
import { emptyStats, learnFromPacket, type DnsNamesStats, type TrustedResolvers } from './learn.js';
import { PendingQueries } from './match-queries.js';
import { parseResolvConf, parseScutilDns, type ResolverList, type TrustedResolver } from './parse-resolvers.js';

/**
 * DNS both ways: the queries this host sends (an answer counts only when it answers one of them) and the responses.
 * The kernel's filter drops everything else, so a busy host costs little here. UDP only: DNS over TCP (answers over
 * 512 bytes without EDNS, zone transfers) is rare for address lookups.
 */
export const TCPDUMP_FILTER = 'udp and port 53';

/**
 * `-w -`: binary capture on stdout (pcap on Linux, pcapng from Apple's pktap), parsed by us rather than
 * tcpdump's text, which changes between versions. `-U` writes each packet as it comes, `-p` never puts an
 * interface in promiscuous mode (only this host's traffic is ours to read), `-n` never resolves anything.
 * macOS: `pktap,all` is every interface, VPN tunnels and loopback included; Linux: `any`.
 */
export function tcpdumpArgs(platform: Platform): string[] {
  return ['-i', platform === 'darwin' ? 'pktap,all' : 'any', '-n', '-p', '-U', '-s', '0', '-w', '-', TCPDUMP_FILTER];
}

/** SIGKILL after SIGTERM at stop, inside the extension's collector stop budget. */
const KILL_AFTER_MS = 500;
const MAX_RESOLV_CONF_BYTES = 64 * 1024;


export interface DnsNamesCollectorOptions {
  /** First restart delay; doubles per consecutive failure up to dns_names.restart_backoff_max. */
  initialBackoffMs?: number;
  /** ready() resolves once tcpdump says it listens, or after this long. */
  readyMaxMs?: number;
  /** A run that lasted this long resets the backoff. */
  stableRunMs?: number;
}

export interface DnsNamesCollector extends Collector {
  stats(): DnsNamesStats;
  /** The resolvers whose answers count right now (canonical addresses). */
  trustedResolvers(): string[];
}

function missingDetail(platform: Platform): string {
  return platform === 'darwin'
    ? 'macOS ships /usr/sbin/tcpdump; without it flows carry no server names and destinations are keyed by IP'
    : 'install tcpdump (Debian: apt-get install tcpdump); without it flows carry no server names and destinations are keyed by IP';
}

/** tcpdump's own words for "not allowed to capture" (libpcap: "You don't have permission …", "Operation not permitted"). */
function deniedByStderr(stderr: string): boolean {
  return /permission|not permitted/i.test(stderr);
}

/**
 * The dns_names collector: one long-running tcpdump that captures DNS queries and responses, and a periodic read
 * of the system's resolvers. A response from one of those resolvers to a query this host sent (match-queries.ts)
 * names the addresses it gives (labels.ts), and the flow store gives a new flow to such an address that name as
 * its server_name.
 */
export function createDnsNamesCollector(ctx: ExtensionContext, opts: DnsNamesCollectorOptions = {}): DnsNamesCollector {
  const health = ctx.health.component('dns_names');
  const log = ctx.log.child({ component: 'collector', collector: 'dns_names' });
  const cfg = ctx.config.dns_names;
  const backoff = new RestartBackoff(opts.initialBackoffMs ?? 1000, cfg.restart_backoff_max * 1000);
  const readyMaxMs = opts.readyMaxMs ?? 5000;
  const stableRunMs = opts.stableRunMs ?? 60_000;

  const stats: DnsNamesStats = emptyStats();
  /** dns_names.resolvers: trusted on any interface (config validated them as addresses). */
  const configured: TrustedResolver[] = cfg.resolvers.flatMap((text) => {
    const address = canonicalIp(text);
    return address === null ? [] : [{ address, interfaces: [] }];
  });
  /** The system's resolvers as last read: kept while a read finds none (a network change in progress). */
  let system: TrustedResolver[] = [];
  let trusted: TrustedResolvers = trustedFrom(configured);
  let resolverProblem = '';
  /** A few servers whose answers were ignored, for the health detail (an admin may want to trust one). */
  const untrustedSeen = new Set<string>();
  let captureProblem = '';
  let started = false;
  const supervisor = new ToolSupervisor({
    backoff,
    stableRunMs,
    killAfterMs: KILL_AFTER_MS,
    restart: () => {
      stats.restarts++;
      launch();
    },
  });
  let resolverTimer: NodeJS.Timeout | undefined;
  let readyTimer: NodeJS.Timeout | undefined;
  let bugLogged = false;

  let markReady!: () => void;
  let isReady = false;
  const readyPromise = new Promise<void>((resolve) => {
    markReady = () => {
      if (isReady) return;
      isReady = true;
      if (readyTimer) clearTimeout(readyTimer);
      resolve();
    };
  });

  const refreshDetail = (force = false) => detail.refresh(force);
  const detail = throttledRefresh(() => {
    // Not inboundEvicted: anyone can send queries to this host's port 53 (and a host that is a busy DNS server
    // counts them all the time), so it would bury the losses dropped is for. It is said in the detail.
    health.dropped = stats.malformed + stats.evicted + stats.revokedAtCap;
    if (health.state !== 'running' && health.state !== 'degraded') return;
    const resolvers = trusted.size ? `trusted resolvers ${describeTrusted(trusted)}` : 'no trusted resolver known';
    const parts = [`${ctx.dnsNames.size} addresses named from ${stats.answers} answers; ${resolvers}`];
    if (stats.untrusted) parts.push(`${stats.untrusted} answers from other servers ignored (${[...untrustedSeen].join(', ')}; trust one with dns_names.resolvers)`);
    if (stats.misplaced) parts.push(`${stats.misplaced} answers from a resolver's address captured where it cannot have sent them ignored (another interface, a VM or container bridge, or going out of this host)`);
    if (stats.unmatched) parts.push(`${stats.unmatched} answers that match no query this host sent ignored (other ports, id, question or interface; unsolicited; or after dns_names.query_timeout)`);
    if (stats.duplicates) parts.push(`${stats.duplicates} second answers to one query: neither names anything`);
    if (stats.foreignQueries) parts.push(`${stats.foreignQueries} queries to a resolver not sent by this host ignored (captured inbound, or without a direction)`);
    if (stats.forwarded) parts.push(`${stats.forwarded} queries forwarded for guests (a container or VM this host NATs or bridges) not counted as this host's`);
    if (stats.evicted) parts.push(`${stats.evicted} queries dropped unanswered at dns_names.max_pending_queries`);
    if (stats.revokedAtCap) parts.push(`${stats.revokedAtCap} answers taken back: dns_names.max_pending_queries pushed their query out within dns_names.query_timeout, before a second answer could be seen`);
    if (stats.inboundEvicted) parts.push(`${stats.inboundEvicted} inbound queries forgotten at dns_names.max_pending_queries within dns_names.query_timeout (a guest's query forwarded after that counts as this host's)`);
    if (stats.malformed) parts.push(`${stats.malformed} packets unreadable`);
    if (stats.restarts) parts.push(`tcpdump restarted ${stats.restarts} times`);
    // None of this host's queries seen off loopback (a loopback resolver's say nothing of it), yet queries to its
    // resolvers there without a direction: the capture cannot show what this host sent (docs/flows.md, Capture),
    // so no answer can match. Said as a problem: nothing off loopback will be named.
    const directionProblem =
      stats.sentOffLoopback === 0 && stats.undirectedQueries > 0
        ? `the capture records no direction for the ${stats.undirectedQueries} queries to trusted resolvers it saw off loopback, so none is known to be this host's and no answer can name anything (tcpdump must record which way packets go: pcapng epb_flags, or a Linux cooked capture)`
        : '';
    const problems = [resolverProblem, captureProblem, directionProblem].filter(Boolean);
    if (problems.length || !trusted.size) health.degraded([...problems, ...parts].join('; '));
    else health.running(parts.join('; '));
  }, { stopped: () => supervisor.stopped });

  const readResolvConf = async (): Promise<ResolverList> => {
    const fh = await open(cfg.resolv_conf, 'r');
    try {
      const buf = Buffer.alloc(MAX_RESOLV_CONF_BYTES);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      return parseResolvConf(buf.subarray(0, bytesRead).toString('utf8'));
    } finally {
      await fh.close();
    }
  };

  const refreshResolvers = async () => {
    const problems: string[] = [];
    let read: ResolverList | undefined;
    if (ctx.platform === 'darwin') {
      try {
        const res = await ctx.tools.run('scutil', ['--dns'], { timeoutMs: 5000, maxBytes: 1024 * 1024 });
        read = parseScutilDns(res.stdout);
        if (!read.resolvers.length) problems.push('scutil --dns listed no nameserver');
      } catch (err) {
        problems.push(`scutil --dns failed: ${coerceError(err).message}`);
      }
    }
    if (!read?.resolvers.length) {
      try {
        read = await readResolvConf();
        if (!read.resolvers.length) problems.push(`${cfg.resolv_conf} lists no nameserver`);
      } catch (err) {
        problems.push(`cannot read ${cfg.resolv_conf}: ${coerceError(err).message}`);
      }
    }
    if (supervisor.stopped) return;
    const found = read?.resolvers ?? [];
    if (found.length) system = found;
    trusted = trustedFrom([...system, ...configured]);
    if (found.length) resolverProblem = '';
    else if (system.length) resolverProblem = `${problems.join('; ')}: keeping the system resolvers read before`;
    else resolverProblem = `${problems.join('; ')}: no answer from the system's resolvers can name an address`;
    if (read?.rejected) log.warn({ rejected: read.rejected }, 'nameserver entries that are not addresses');
    refreshDetail(true);
  };

  const launch = () => {
    if (supervisor.stopped) return;
    const args = tcpdumpArgs(ctx.platform);
    let proc: SupervisedChild;
    try {
      proc = ctx.tools.spawnStream('tcpdump', args);
    } catch (err) {
      const e = coerceError(err);
      if (e instanceof ToolError && e.code === 'TOOL_PERMISSION') health.permissionDenied(`${e.message}; ${e.hint ?? ''}`.trim());
      else if (e instanceof ToolError && e.code === 'TOOL_NOT_FOUND') health.unavailable(`${e.message}: ${missingDetail(ctx.platform)}`);
      else health.degraded(`tcpdump could not be started: ${e.message}`);
      supervisor.scheduleRestart();
      markReady();
      return;
    }
    const parser = new CaptureStreamParser();
    // one per capture: a new tcpdump numbers its pcapng interfaces anew, and misses the answers to what it never saw asked
    const pending = new PendingQueries({ maxPending: cfg.max_pending_queries, timeoutMs: cfg.query_timeout * 1000 }, stats);
    let listening = false;
    /** The capture stream could not be read: the child was killed, and what it still writes is not read. */
    let unreadable = false;
    if (!isReady) {
      readyTimer = setTimeout(markReady, readyMaxMs);
      readyTimer.unref?.();
    }

    proc.stdout.on('data', (chunk: Buffer) => {
      if (unreadable) return;
      let packets;
      try {
        packets = parser.push(chunk);
      } catch (err) {
        if (!(err instanceof CaptureFormatError)) throw err;
        // a capture stream cannot be resynchronised: start a new one
        stats.formatErrors++;
        captureProblem = `tcpdump's capture stream was unreadable (${err.message}); restarted`;
        log.warn({ err }, 'capture stream unreadable; restarting tcpdump');
        unreadable = true;
        killGroup(proc, 'SIGKILL');
        return;
      }
      const at = ctx.clock.unix();
      const nowMs = ctx.clock.ms();
      for (const p of packets) {
        try {
          const learned = learnFromPacket(p, { trusted, names: ctx.dnsNames, pending, at, nowMs, stats, untrustedSeen });
          if (learned) health.event(learned, at);
        } catch (err) {
          // The parsers throw only their typed errors, which learnFromPacket counts; anything else is a bug in
          // them, and a throw here would take the whole extension down (osqueryd respawning it for every such
          // packet). The packet is counted unreadable instead.
          stats.malformed++;
          if (!bugLogged) log.error({ err }, 'unexpected error reading a captured packet; counted as unreadable');
          bugLogged = true;
        }
      }
      refreshDetail();
    });
    supervisor.watch(proc, {
      onStderr: (stderr) => {
        // "listening on any, link-type …": the capture is active from here on
        if (!listening && /listening on /.test(stderr)) {
          listening = true;
          captureProblem = '';
          if (health.state !== 'running' && health.state !== 'degraded') health.running('capturing');
          refreshDetail(true);
          markReady();
        }
      },
      onError: (err, spawnFailed) => {
        if (spawnFailed) markReady();
        if (err.code === 'ENOENT') health.unavailable(`tcpdump not found at ${ctx.tools.resolve('tcpdump')}: ${missingDetail(ctx.platform)}`);
        else if (err.code === 'EACCES' || err.code === 'EPERM') health.permissionDenied(`tcpdump at ${ctx.tools.resolve('tcpdump')} is not executable by this user: ${process.getuid?.() === 0 ? 'check its mode and the file system it is on' : 'run the extension as root'}`);
        else health.degraded(`tcpdump failed: ${err.message}`);
      },
      onExit: ({ code, signal, stderr, delayMs }) => {
        const head = stderrHead(stderr, /^(tcpdump: )?listening on /);
        if (!unreadable) {
          const detail = exitDetail('tcpdump', code, signal, head, delayMs);
          if (deniedByStderr(stderr)) health.permissionDenied(`${detail}; it must run as root (as osqueryd runs the extension)`);
          else captureProblem = detail;
        }
        refreshDetail(true);
        log.warn({ exit_code: code, signal, retry_ms: delayMs, stderr_head: head }, 'tcpdump exited');
        markReady();
      },
    });
  };

  return {
    name: 'dns_names',
    start() {
      if (started) return;
      started = true;
      if (!cfg.enabled) {
        health.disabled('dns_names.enabled is false in the config: flows carry no server names, destinations are keyed by IP');
        markReady();
        return;
      }
      health.running('starting tcpdump');
      void refreshResolvers().finally(() => {
        if (supervisor.stopped) return;
        resolverTimer = setInterval(() => void refreshResolvers(), cfg.resolver_refresh * 1000);
        resolverTimer.unref?.();
        launch();
      });
    },
    ready: () => readyPromise,
    async stop() {
      const stopping = supervisor.stop();
      if (resolverTimer) clearInterval(resolverTimer);
      if (readyTimer) clearTimeout(readyTimer);
      detail.cancel();
      await stopping;
      markReady();
    },
    stats: () => ({ ...stats }),
    trustedResolvers: () => [...trusted.keys()],
  };
}

/** Merge resolver lists by address: one reachable through any interface makes the address so. */
function trustedFrom(list: readonly TrustedResolver[]): TrustedResolvers {
  const out = new Map<string, Set<string> | null>();
  for (const r of list) {
    const known = out.get(r.address);
    if (known === null) continue;
    if (r.interfaces.length === 0) out.set(r.address, null);
    else out.set(r.address, new Set([...(known ?? []), ...r.interfaces]));
  }
  return out;
}

function describeTrusted(trusted: TrustedResolvers): string {
  const shown = [...trusted].slice(0, 6).map(([address, ifaces]) => (ifaces ? `${address} (${[...ifaces].join(', ')})` : address));
  return trusted.size > 6 ? `${shown.join(', ')} and ${trusted.size - 6} more` : shown.join(', ');
}

export const dnsNamesCollector: CollectorFactory = {
  name: 'dns_names',
  platforms: ['darwin', 'linux'],
  create: (ctx) => createDnsNamesCollector(ctx),
};
