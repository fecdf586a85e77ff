import { bigint, defineTable, text } from '../../runtime/define-table.js';

/** SPEC §2: health, one row per collector/component, straight from the health registry. */
export const outflowStatus = defineTable({
  name: 'outflow_status',
  description: 'Outflow health: one row per collector (state, what to do about it, event and drop counters).',
  columns: {
    component: text({ index: true }),
    platform: text(),
    state: text(),
    detail: text(),
    events: bigint(),
    dropped: bigint(),
    last_event: bigint(),
    version: text(),
  },
  platforms: ['darwin', 'linux'],
  generate: (ctx) =>
    ctx.health
      .rows()
      .sort((a, b) => (a.component < b.component ? -1 : a.component > b.component ? 1 : 0))
      .map((r) => ({ ...r })),
});
