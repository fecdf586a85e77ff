import { z } from 'zod';

/**
 * Classification data overrides (SPEC §2, §4): the sensitive-path taxonomy and the browser / sanctioned
 * uploader allowlists are data. Defaults live in src/classify/; these keys add to or replace them.
 */
export const AppMatcherSchema = z.object({
  /** Apple platform code has no team id: use "APPLE". */
  team_id: z.string().min(1),
  /** Signing-id prefix, e.g. "com.google.Chrome" matches "com.google.Chrome.helper". */
  signing_id_prefix: z.string().min(1),
  name: z.string().optional(),
  category: z.string().optional(),
});
export type AppMatcher = z.infer<typeof AppMatcherSchema>;

export const SensitiveRuleSchema = z.object({
  /** Glob over the canonical path; `~` expands to every user home; `*` = one path segment, `**` = any depth. */
  pattern: z.string().min(1),
  category: z.enum([
    'keychain',
    'browser_secrets',
    'dev_credentials',
    'password_manager',
    'crypto_wallet',
    'messaging',
    'personal_data',
    'documents',
    'removable_volume',
    'shell_history',
  ]),
  /** Authorized readers (signing-id prefixes with team ids) that never produce events for this rule. */
  authorized: z.array(AppMatcherSchema).optional(),
  /** Paths ending in one of these do not match the rule (`~/.ssh/id_*` without the public keys: `.pub`). */
  except_suffixes: z.array(z.string().min(1)).optional(),
});
export type SensitiveRule = z.infer<typeof SensitiveRuleSchema>;

export const classifyConfigShape = {
  taxonomy: z
    .object({
      /** Replace the built-in rules entirely (rare); default: extend them with `add`. */
      replace_defaults: z.boolean().default(false),
      add: z.array(SensitiveRuleSchema).default([]),
    })
    .prefault({}),
  allowlists: z
    .object({
      browsers: z.array(AppMatcherSchema).default([]),
      sanctioned: z.array(AppMatcherSchema).default([]),
      /** Terminal / IDE apps whose interactive shells start a lineage group. */
      terminals: z.array(AppMatcherSchema).default([]),
      replace_defaults: z.boolean().default(false),
    })
    .prefault({}),
};
