/**
 * Outflow detection → OCSF 1.3 Detection Finding (category 2 Findings, class_uid 2004).
 * Pure and deterministic: the same detection always maps to the same object (timestamps are event
 * time, never "now"), so replays and the CLI's `--format ocsf` agree with the sinks.
 *
 * OCSF timestamps are milliseconds since the epoch; Outflow's are seconds.
 * Fields without an OCSF home (fleet prevalence facts, suppression key, reasons) go under
 * `unmapped.outflow` rather than being dropped, as the schema recommends.
 */
import { createHash } from 'node:crypto';
import { VERSION } from '../../src/version.js';
import type { Detection, DetectionProcess } from '../../src/schemas/detection.js';

export const OCSF_VERSION = '1.3.0';
export const OCSF_CLASS_UID = 2004;
export const OCSF_CATEGORY_UID = 2;

const SEVERITY_ID: Record<Detection['severity'], { id: number; name: string }> = {
  info: { id: 1, name: 'Informational' },
  low: { id: 2, name: 'Low' },
  medium: { id: 3, name: 'Medium' },
  high: { id: 4, name: 'High' },
  critical: { id: 5, name: 'Critical' },
};

const RISK_LEVEL_ID: Record<Detection['severity'], { id: number; name: string }> = {
  info: { id: 0, name: 'Info' },
  low: { id: 1, name: 'Low' },
  medium: { id: 2, name: 'Medium' },
  high: { id: 3, name: 'High' },
  critical: { id: 4, name: 'Critical' },
};

/** OCSF network protocol numbers (IANA) for connection_info.protocol_num. */
const PROTOCOL_NUM: Record<string, number> = { tcp: 6, udp: 17 };

/** Names of the techniques src/analytics cites (MITRE ATT&CK Enterprise); others keep their id as name. */
const TECHNIQUE_NAMES: Record<string, string> = {
  T1041: 'Exfiltration Over C2 Channel',
  T1048: 'Exfiltration Over Alternative Protocol',
  'T1048.002': 'Exfiltration Over Asymmetric Encrypted Non-C2 Protocol',
  'T1048.003': 'Exfiltration Over Unencrypted Non-C2 Protocol',
  T1030: 'Data Transfer Size Limits',
  T1567: 'Exfiltration Over Web Service',
  'T1567.002': 'Exfiltration to Cloud Storage',
};

/**
 * Analytics write the tactic as "TA0010 Exfiltration"; OCSF wants uid and name apart. A sub-technique (T1048.002)
 * goes in `sub_technique`, its parent in `technique`, where a SIEM pivoting on T1048 finds it.
 */
function attackOf(technique: string, tactic: string): Record<string, unknown> {
  const m = /^(TA\d{4})\s*(.*)$/.exec(tactic.trim());
  const sub = /^(T\d{4})\.\d{3}$/.exec(technique);
  const parent = sub ? sub[1]! : technique;
  return {
    technique: { uid: parent, name: TECHNIQUE_NAMES[parent] ?? parent },
    ...(sub ? { sub_technique: { uid: technique, name: TECHNIQUE_NAMES[technique] ?? technique } } : {}),
    ...(tactic ? { tactic: m ? { uid: m[1], name: m[2] || m[1] } : { name: tactic } } : {}),
  };
}

const ms = (unixSeconds: number): number => unixSeconds * 1000;

function basename(p: string): string {
  const i = p.lastIndexOf('/');
  return i >= 0 ? p.slice(i + 1) : p;
}

function signatureOf(p: DetectionProcess): Record<string, unknown> | undefined {
  if (!p.signature_class || p.signature_class === 'unsigned' || p.signature_class === 'unknown') return undefined;
  return {
    // 99 Other: the 1.3.0 enum names DSA, RSA, ECDSA and Authenticode only (a code-signing id came later)
    algorithm_id: 99,
    algorithm: 'Apple Code Signing',
    ...(p.team_id ? { developer_uid: p.team_id } : {}),
    ...(p.cdhash ? { digest: { algorithm_id: 99, algorithm: 'cdhash', value: p.cdhash } } : {}),
    // 99 Other: 1.3.0's states (Valid, Expired, Revoked, Suspended, Pending) name no broken signature
    ...(p.signature_class === 'invalid' ? { state_id: 99, state: 'Invalid' } : {}),
  };
}

function fileOf(p: DetectionProcess): Record<string, unknown> {
  const signature = signatureOf(p);
  return {
    name: basename(p.path),
    path: p.path,
    type_id: 1,
    type: 'Regular File',
    ...(signature ? { signature } : {}),
  };
}

/** The chain is flow process first, group root last; OCSF nests it as process.parent_process. */
function processTree(chain: readonly DetectionProcess[], startTime: number): Record<string, unknown> | undefined {
  let parent: Record<string, unknown> | undefined;
  for (let i = chain.length - 1; i >= 0; i--) {
    const p = chain[i]!;
    parent = {
      pid: p.pid,
      name: basename(p.path),
      file: fileOf(p),
      ...(i === 0 && startTime > 0 ? { created_time: ms(startTime) } : {}),
      ...(parent ? { parent_process: parent } : {}),
    };
  }
  return parent;
}

/**
 * base_event.observables (recommended): the pivots a SIEM indexes. type_id from the OCSF dictionary's observable
 * numbers: 1 Hostname, 2 IP Address, 7 File Name, 8 Hash, 9 Process Name.
 */
function observablesOf(d: Detection, destination: string, isIp: boolean): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const add = (name: string, type_id: number, type: string, value: string) => {
    if (value) out.push({ name, type_id, type, value });
  };
  add('device.hostname', 1, 'Hostname', d.hostname);
  add('evidences[0].dst_endpoint.ip', 2, 'IP Address', d.flow.remote_address);
  if (!isIp) add('evidences[0].dst_endpoint.domain', 1, 'Hostname', destination);
  add('evidences[0].dst_endpoint.hostname', 1, 'Hostname', d.flow.server_name);
  add('evidences[0].process.name', 9, 'Process Name', basename(d.process.path));
  add('evidences[0].process.file.signature.digest.value', 8, 'Hash', d.process.cdhash);
  d.precursors.forEach((p, i) => add(`evidences[${i + 1}].file.name`, 7, 'File Name', basename(p.path)));
  return out;
}

/**
 * Create the first time a receiver is offered the finding, Update after that. The outbox knows which
 * (`firstOffered`): a detection that folded several flows before its first delivery is still a Create there.
 * Without it (an export), the detection's own count and times decide.
 */
export function ocsfActivity(d: Detection, firstOffered?: boolean): { id: 1 | 2; name: 'Create' | 'Update' } {
  const create = firstOffered ?? (d.count === 1 && d.updated_at <= d.created_at);
  return create ? { id: 1, name: 'Create' } : { id: 2, name: 'Update' };
}

/**
 * The uid of this event instance (OCSF metadata.uid: "the logging system-assigned unique identifier of an event
 * instance"): one per version of the detection, so a receiver that dedupes on it keeps every Update. Deterministic
 * (replays and re-deliveries of the same version give the same uid); finding_info.uid stays the detection id.
 */
export function ocsfEventUid(d: Detection): string {
  // every field of the version: a fold may change last_seen, precursors or the evidence unit and nothing else
  return `${d.id}.${createHash('sha256').update(canonicalJson(d)).digest('base64url').slice(0, 12)}`;
}

/** JSON with object keys sorted: a detection read back from the store and one built in memory hash alike. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export function toOcsf(d: Detection, firstOffered?: boolean): Record<string, unknown> {
  const activity = ocsfActivity(d, firstOffered);
  const severity = SEVERITY_ID[d.severity];
  const risk = RISK_LEVEL_ID[d.severity];
  const flow = d.flow;
  const chain = d.process_chain.length ? d.process_chain : [d.process];
  const processObj = processTree(chain, d.process_start);
  const destination = d.destination_key || flow.server_name || flow.remote_address;
  const title = `${d.analytic} ${d.analytic_name}: ${basename(d.process.path) || d.process.identity} → ${destination}`;
  const isIp = flow.remote_address === destination;

  return {
    activity_id: activity.id,
    activity_name: activity.name,
    category_uid: OCSF_CATEGORY_UID,
    category_name: 'Findings',
    class_uid: OCSF_CLASS_UID,
    class_name: 'Detection Finding',
    type_uid: OCSF_CLASS_UID * 100 + activity.id,
    type_name: `Detection Finding: ${activity.name}`,
    time: ms(d.updated_at),
    start_time: ms(d.first_seen),
    end_time: ms(d.last_seen),
    count: d.count,
    severity_id: severity.id,
    severity: severity.name,
    // status is the consumer's from then on (an analyst's "In Progress"): only the Create sets it
    ...(activity.id === 1 ? { status_id: 1, status: 'New' } : {}),
    confidence_id: d.baseline_warming ? 1 : 3,
    confidence: d.baseline_warming ? 'Low' : 'High',
    risk_score: Math.round(d.score),
    risk_level_id: risk.id,
    risk_level: risk.name,
    message: title,
    observables: observablesOf(d, destination, isIp),
    metadata: {
      version: OCSF_VERSION,
      product: { name: 'Outflow', vendor_name: 'Outflow', version: VERSION, feature: { name: 'fleet aggregator' } },
      uid: ocsfEventUid(d),
      correlation_uid: d.suppression_key,
      logged_time: ms(d.created_at),
      modified_time: ms(d.updated_at),
      labels: d.modifiers,
    },
    finding_info: {
      uid: d.id,
      title,
      desc: `${d.analytic_name} (${d.branch}${d.baseline_warming ? ', baseline warming' : ''}); ${d.count} flow(s), ${d.bytes_out_total} bytes out`,
      types: [d.analytic, d.branch],
      first_seen_time: ms(d.first_seen),
      last_seen_time: ms(d.last_seen),
      created_time: ms(d.created_at),
      modified_time: ms(d.updated_at),
      data_sources: ['osquery', 'outflow'],
      analytic: { uid: d.analytic, name: d.analytic_name, type_id: 1, type: 'Rule', category: d.branch },
      attacks: d.attack_technique ? [attackOf(d.attack_technique, d.attack_tactic)] : [],
      related_events: d.flow_ids.map((uid) => ({ uid, product_uid: 'outflow', type: 'process_network_flows' })),
    },
    device: {
      uid: d.host_id,
      hostname: d.hostname || undefined,
      type_id: 0,
      type: 'Unknown',
    },
    evidences: [
      {
        connection_info: {
          protocol_name: flow.protocol,
          ...(PROTOCOL_NUM[flow.protocol] !== undefined ? { protocol_num: PROTOCOL_NUM[flow.protocol] } : {}),
          protocol_ver_id: flow.family === 6 ? 6 : 4,
          direction_id: 2,
          direction: 'Outbound',
          uid: flow.flow_id,
        },
        src_endpoint: {
          ip: flow.local_address || undefined,
          port: flow.local_port || undefined,
          interface_name: flow.interface || undefined,
          uid: d.host_id,
        },
        dst_endpoint: {
          ip: flow.remote_address,
          port: flow.remote_port,
          ...(isIp ? {} : { domain: destination }),
          ...(flow.server_name ? { hostname: flow.server_name } : {}),
        },
        ...(processObj ? { process: processObj } : {}),
        data: {
          kind: 'flow',
          bytes_out: flow.bytes_out,
          bytes_in: flow.bytes_in,
          pcr: flow.pcr,
          duration: flow.duration,
          service: flow.service,
          service_evidence: flow.service_evidence,
          remote_scope: flow.remote_scope,
          state: flow.state,
          closed: flow.closed === 1,
        },
      },
      ...d.precursors.map((p) => ({
        file: { name: basename(p.path), path: p.path, type_id: 1, type: 'Regular File' },
        data: { kind: p.kind, category: p.category, tier: p.tier, pid: p.pid, time: ms(p.time), gap_seconds: p.gap, archive_output: p.archive_output || undefined },
      })),
    ],
    unmapped: {
      outflow: {
        branch: d.branch,
        baseline_warming: d.baseline_warming,
        score: d.score,
        base_score: d.base_score,
        modifiers: d.modifiers,
        suppression_key: d.suppression_key,
        destination_key: d.destination_key,
        bytes_out_total: d.bytes_out_total,
        bytes_in_total: d.bytes_in_total,
        reasons: d.reasons,
        browser: d.browser,
        sanctioned: d.sanctioned,
        group_root: d.group_root,
        process_chain: d.process_chain.map((p) => ({ path: p.path, identity: p.identity, signature_class: p.signature_class, first_seen: p.first_seen, hosts: p.hosts })),
        fleet: d.fleet,
      },
    },
  };
}
