/** What the file-source tests share: a store and ingest service per file, lines, logs they read, open files. */
import { readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { defaultAnalyticsConfig } from '../../src/config/analytics.js';
import { createIngestService, type IngestService } from '../../fleet/ingest/ingest-service.js';
import { silentLogger, type Logger } from '../../src/log.js';
import { T0, destinationLine, hostsOf, memoryStore } from './fleet-helpers.js';

const hosts = hostsOf(3);

/** Result line `i`: a destination of its own (`s<i>.example-<i>.com`), from one of three hosts. */
export const lineAt = (i: number): string => destinationLine(hosts[i % 3]!, T0 + i, `s${i}.example-${i}.com`);

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `dir/name`, with an in-memory store and the ingest service over it. */
export async function setupFileSource(dir: string, name: string) {
  const file = path.join(dir, name);
  const store = await memoryStore();
  const ingest = createIngestService({ store, analytics: defaultAnalyticsConfig(), quarantineFile: null });
  return { file, store, ingest };
}

/** A silent logger that keeps its warnings (message and fields) and hands its info messages to `onInfo`. */
export function capturingLog(onInfo?: (msg: string | undefined, fields: unknown) => void): { log: Logger; warned: string[] } {
  const warned: string[] = [];
  const log = Object.create(silentLogger()) as Logger;
  log.warn = ((o: unknown, msg?: string) => void warned.push(`${msg} ${JSON.stringify(o)}`)) as Logger['warn'];
  if (onInfo) log.info = ((o: unknown, msg?: string) => onInfo(msg, o)) as Logger['info'];
  return { log, warned };
}

/** The paths this process has open (its descriptors in /proc/self/fd). */
export function openPaths(): string[] {
  return readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      return [readlinkSync(`/proc/self/fd/${fd}`)];
    } catch {
      return [];
    }
  });
}

/** The ingest service with every line handed to it recorded, in order. */
export function recordingIngest(ingest: IngestService): { sent: string[]; wrapped: IngestService } {
  const sent: string[] = [];
  const wrapped = {
    ...ingest,
    ingestLines: (lines: Iterable<string>, src: Parameters<IngestService['ingestLines']>[1]) => {
      const arr = [...lines];
      sent.push(...arr);
      return ingest.ingestLines(arr, src);
    },
  } as IngestService;
  return { sent, wrapped };
}
