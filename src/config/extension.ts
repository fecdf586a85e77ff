import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * A collector's sample interval (s). A collector starts its next sample when the interval after the last one ends, so
 * an interval of a millisecond runs its tool back to back: a core kept busy spawning ss / ps (and code_signing's pass)
 * hundreds of times a second, for flow and process times that are whole seconds.
 */
const SampleInterval = z.number().min(0.1, 'at least 0.1 s: a shorter interval runs the tool back to back (a core kept busy); times are whole seconds');

/**
 * The longest wait (s) before a supervised tool (eslogger, tcpdump) is started again after it exits. A tool that fails
 * at once (not permitted, no such interface) is restarted every this often: a millisecond would spawn it without pause.
 */
const RestartBackoffMax = z.number().min(0.1, 'at least 0.1 s: a shorter cap restarts a tool that fails at once back to back');

const Cidr = z.string().regex(/^[0-9a-fA-F:.]+\/\d{1,3}$/, 'expected a CIDR such as 10.0.0.0/8 or fd00::/8');

/** Default port → service map (service_evidence = "port"). Overridable per key in config. */
export const DEFAULT_PORT_MAP: Record<string, 'tls' | 'quic' | 'http' | 'ftp' | 'ssh' | 'dns'> = {
  'tcp/443': 'tls',
  'tcp/8443': 'tls',
  'tcp/993': 'tls',
  'tcp/995': 'tls',
  'tcp/465': 'tls',
  'tcp/853': 'tls',
  'udp/443': 'quic',
  'tcp/80': 'http',
  'tcp/8080': 'http',
  'tcp/8000': 'http',
  'tcp/21': 'ftp',
  'tcp/22': 'ssh',
  'udp/53': 'dns',
  'tcp/53': 'dns',
};

/** Top-level config keys used by the extension (`tools.dir`, `flows.retention`, …). */
export const extensionConfigShape = {
    tools: z
      .object({
        /** Resolve every tool from this directory instead of its absolute system path (tests, fake tools). */
        dir: z.string().optional(),
        timeout_ms: z.number().int().positive().default(15_000),
        max_output_bytes: z.number().int().positive().default(64 * 1024 * 1024),
      })
      .prefault({}),
    flows: z
      .object({
        sample_interval: SampleInterval.default(5),
        /** How long a closed flow stays in the table (s, from its last sample; at least twice `sample_interval`). */
        retention: z.number().int().positive().default(900),
        max_flows: z.number().int().positive().default(20_000),
        /**
         * macOS: after the exec of a transfer tool (curl, scp, rsync, nc… or any program given a URL), or an archive
         * finished in a staging place, the next flow
         * sample comes this many seconds later instead of at its turn, and samples come no closer than this: a short
         * upload (a stealer's `curl -F @loot.zip`) can start and end between two samples of `sample_interval`. 0 turns
         * it off.
         */
        transfer_sample_delay: z.union([z.literal(0), z.number().min(0.5, 'at least 0.5 s (or 0 to turn it off): samples come no closer than this')]).default(1),
      })
      // a flow's close is seen one sample after its last one: a retention under two intervals drops a closed flow
      // before (or about when) it is seen closed, and process_network_flows never shows it
      .refine((v) => v.retention >= 2 * v.sample_interval, {
        message: 'flows.retention must be at least twice flows.sample_interval: a closed flow is seen closed one interval after its last sample, and would leave the table before any query sees it; raise flows.retention or lower flows.sample_interval',
        path: ['retention'],
      })
      .prefault({}),
    dns_names: z
      .object({
        /**
         * Capture DNS answers with tcpdump and give each flow the name its remote address was resolved for
         * (server_name). Only answers from the system's resolvers count.
         */
        enabled: z.boolean().default(true),
        /** Resolver addresses trusted besides the system's (macOS `scutil --dns`, else resolv_conf), e.g. a local DNS proxy. */
        resolvers: z.array(z.string().refine((s) => isIP(s) !== 0, 'expected an IPv4 or IPv6 address')).default([]),
        /** Where the system's resolvers are read on Linux (and on macOS when scutil fails). */
        resolv_conf: z.string().default('/etc/resolv.conf'),
        /** How often the system's resolvers are read again (s): Wi-Fi and VPN changes move them. */
        resolver_refresh: z.number().min(1, 'at least 1 s: the resolvers are read again every resolver_refresh').max(86_400).default(60),
        /** Addresses remembered at most (the oldest answer goes first). */
        max_names: z.number().int().positive().default(50_000),
        /** An answer names its address for its TTL, capped here (s), plus `grace`. */
        max_ttl: z.number().int().positive().default(86_400),
        /** Seconds an answer still counts after its TTL: apps keep using an address they resolved a little longer. */
        grace: z.number().int().nonnegative().default(600),
        /**
         * How long a query this host sent waits for its answer (s), and an answered one for a second answer (which
         * drops both). An answer that matches no waiting query names nothing.
         */
        query_timeout: z.number().positive().max(60).default(10),
        /**
         * Queries waiting for their answer (or answered, for a second one) at most: past it the oldest goes, and takes
         * back what its answer named if it was still within query_timeout (counted in the dns_names row). As many
         * inbound queries are remembered apart, to spot the ones this host forwards for a guest (shared between the
         * interfaces they came in on: past it, the one holding the most loses its oldest; counted too).
         */
        max_pending_queries: z.number().int().positive().default(4096),
        restart_backoff_max: RestartBackoffMax.default(60),
      })
      .prefault({}),
    processes: z
      .object({
        /** Also code_signing's interval. */
        sample_interval: SampleInterval.default(5),
        /** How long exited processes stay in the model (must cover the precursor window). */
        exited_retention: z.number().int().positive().default(1800),
        max_processes: z.number().int().positive().default(50_000),
      })
      .prefault({}),
    signing: z
      .object({
        cache_size: z.number().int().positive().default(4096),
        workers: z.number().int().positive().max(16).default(2),
        timeout_ms: z.number().int().positive().default(10_000),
        /**
         * A verdict older than this (s) is checked again although the file is unchanged (macOS): Apple revokes
         * Developer ID certificates and notarization tickets of malware, which spctl and codesign's notarization
         * check then report.
         */
        max_age_s: z.number().int().positive().default(86_400),
      })
      .prefault({}),
    events: z
      .object({
        /** What sensitive_file_events and archive_events show (s), and how long tier-2 reads and archives are kept (at least `analytics.precursor_window`). */
        retention: z.number().int().positive().default(1800),
        max_events: z.number().int().positive().default(50_000),
        /**
         * Tier-1 reads (credential stores) have a ring of their own: a flood of tier-2 reads cannot evict them, and
         * they are kept this long (s; at least `retention`) for correlation, since a read during a flow counts
         * however long the flow has been open (SPEC §4: the precursor window runs to the flow's end).
         */
        tier1_retention: z.number().int().positive().default(43_200),
        tier1_max_events: z.number().int().positive().default(10_000),
      })
      .prefault({}),
    eslogger: z
      .object({
        enabled: z.boolean().default(true),
        restart_backoff_max: RestartBackoffMax.default(60),
      })
      .prefault({}),
    network: z
      .object({
        /** Extra ranges treated as internal (never "external"), e.g. your corporate public blocks. */
        internal_ranges: z.array(Cidr).default([]),
        /** "proto/port" → service; merged over DEFAULT_PORT_MAP. */
        port_map: z.record(z.string().regex(/^(tcp|udp)\/\d+$/), z.enum(['tls', 'quic', 'http', 'ftp', 'ssh', 'dns', 'other'])).default({}),
      })
      .prefault({}),
    /** Generate timeout per call (ms). SPEC: every generate answers within 2 s. */
    generate_timeout_ms: z.number().int().positive().default(1800),
};
