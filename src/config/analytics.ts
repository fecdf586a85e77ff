import { z } from 'zod';

const MiB = 1024 * 1024;

/**
 * Every analytic threshold (SPEC §4). One object, shared by the extension's endpoint stage and the
 * fleet's finalization, so both sides always agree on what "upload-shaped" or "rare" means.
 */
/** A severity base score: the 0–100 of a detection's `score` and `base_score` (src/schemas/detection.ts). */
const BaseScore = z.number().min(0).max(100);

export const AnalyticsConfigSchema = z
  .object({
    /** Precursor window: [flow start − precursor_window, flow end] (seconds). */
    precursor_window: z.number().int().positive().default(900),
    /** Gap (seconds) at or under which a precursor makes the detection high severity. */
    precursor_high_gap: z.number().int().nonnegative().default(120),
    upload_shaped: z
      .object({ min_pcr: z.number().min(-1).max(1).default(0.8), min_bytes_out: z.number().int().nonnegative().default(MiB) })
      .prefault({}),
    no_return: z
      .object({ min_pcr: z.number().min(-1).max(1).default(0.95), min_bytes_out: z.number().int().nonnegative().default(MiB) })
      .prefault({}),
    long_lived: z
      .object({
        min_duration: z.number().int().positive().default(3600),
        min_bytes_out: z.number().int().nonnegative().default(10 * MiB),
        /** Severity steps (seconds): each step passed raises the score. */
        steps: z.array(z.number().int().positive()).default([4 * 3600, 8 * 3600, 12 * 3600]),
      })
      .prefault({}),
    high_throughput: z
      .object({
        flow_bytes_out: z.number().int().positive().default(50 * MiB),
        group_bytes_out: z.number().int().positive().default(100 * MiB),
        group_window: z.number().int().positive().default(900),
        /**
         * Bytes out a flow needs to qualify through the group rule: a group's 2 KB API calls are not its egress
         * (each was an AN0082 detection of its own), while chunked uploads (many flows of ≥ 64 KiB) still are.
         */
        group_min_flow_bytes_out: z.number().int().nonnegative().default(64 * 1024),
      })
      .prefault({}),
    /**
     * AN0990 on a TCP flow of no known service (`other`: a port the port map does not name, so neither encrypted nor
     * cleartext can be told; or `dns`, tcp/53): after a tier-1 read, a flow with at least upload_shaped.min_pcr and this
     * many bytes out.
     */
    unidentified_upload: z.object({ min_bytes_out: z.number().int().nonnegative().default(64 * 1024) }).prefault({}),
    /** AN1415 without a precursor: upload-shaped and at least this many bytes out. */
    an1415_min_upload_bytes: z.number().int().nonnegative().default(10 * MiB),
    /** Fleet side. */
    prevalence_window_days: z.number().int().positive().default(30),
    rare: z.object({ min_hosts: z.number().int().positive().default(3), fraction: z.number().min(0).max(1).default(0.01) }).prefault({}),
    common: z.object({ min_hosts: z.number().int().positive().default(10), fraction: z.number().min(0).max(1).default(0.1) }).prefault({}),
    upload_normal_min_hosts: z.number().int().positive().default(3),
    unseen_app_days: z.number().int().positive().default(7),
    /** Severity: a destination first seen fleet-wide this many days ago or less is new (+modifier). */
    new_destination_days: z.number().int().positive().default(7),
    seen_long_days: z.number().int().positive().default(30),
    baseline_maturity_days: z.number().int().nonnegative().default(7),
    suppression_hours: z.number().positive().default(24),
    finalize_delay: z.number().int().nonnegative().default(120),
    /**
     * A flow already folded into a detection and still open is judged again at most this often (seconds): each judgement
     * is a detection update, offered to every sink, and an upload reported every minute for hours would otherwise make
     * one every few minutes. Its first judgement, any flow that has not fired, and its closing report are judged at once.
     * 0: every report. At most half an hour: the hourly rollup keeps the sightings of about an hour before the newest event
     * beyond the prevalence window, and a held version is judged on facts as of its report.
     */
    open_flow_update_interval: z.number().int().nonnegative().max(1800).default(600),
    severity: z
      .object({
        /** Band starts on the 0–100 `score`: a band above 100 could never be reached (every score is clamped to 0–100). */
        low: BaseScore.default(21),
        medium: BaseScore.default(47),
        high: BaseScore.default(73),
        critical: BaseScore.default(90),
        modifier: z.number().default(15),
        /** AN0082: points for each long-lived step passed (`long_lived.steps`); a longer flow never scores lower. */
        long_lived_step: z.number().min(0).default(5),
        /**
         * Each analytic's score before modifiers (AN1415 has two: with a precursor, and without). 0–100: a detection
         * carries it as `base_score`, which its schema bounds like `score`; a base outside would fail every write of
         * that analytic's detections, and finalization with it.
         */
        base: z
          .object({
            an0990: BaseScore.default(60),
            an1415_precursor: BaseScore.default(55),
            an1415: BaseScore.default(50),
            an0425: BaseScore.default(60),
            an0032: BaseScore.default(50),
            an0082: BaseScore.default(45),
          })
          .prefault({}),
      })
      // a band must start above the one below it, or a score would fall in two (or none)
      .refine((v) => v.low < v.medium && v.medium < v.high && v.high < v.critical, {
        message: 'bands must rise: low < medium < high < critical',
        path: ['critical'],
      })
      .prefault({}),
  })
  // A destination at or under the rare threshold must never also be common: the stores keep exact host sets only
  // below common (a sketch counts above it), and rare and common pull the severity modifier opposite ways. Both parts
  // strictly below keep max(min_hosts, ⌈fraction × active hosts⌉) apart at every fleet size but where the two ceilings
  // meet, and rareThreshold stays below commonThreshold there (src/analytics/prevalence.ts); raising rare for a large
  // fleet means raising common with it. Fractions of 0 on both sides are fixed host counts, apart at every size.
  .superRefine((v, ctx) => {
    if (v.rare.min_hosts >= v.common.min_hosts) {
      ctx.addIssue({ code: 'custom', path: ['rare', 'min_hosts'], message: `rare.min_hosts (${v.rare.min_hosts}) must be below common.min_hosts (${v.common.min_hosts})` });
    }
    if (v.rare.fraction > 0 && v.rare.fraction >= v.common.fraction) {
      ctx.addIssue({ code: 'custom', path: ['rare', 'fraction'], message: `rare.fraction (${v.rare.fraction}) must be below common.fraction (${v.common.fraction}), or 0` });
    }
  })
  .prefault({});

export type AnalyticsConfig = z.infer<typeof AnalyticsConfigSchema>;

export function defaultAnalyticsConfig(): AnalyticsConfig {
  return AnalyticsConfigSchema.parse({});
}
