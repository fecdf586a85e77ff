import { describe, expect, it } from 'vitest';
import { HealthRegistry } from './health.js';

describe('a component waiting on its source', () => {
  it("shows the source's failure until it reports a state of its own, then its own again", () => {
    const health = new HealthRegistry('linux', '0.0.0-test', () => 100);
    const flows = health.component('flows');
    flows.running('no sample yet');
    const ss = health.component('ss');
    flows.awaitFirstDataFrom(ss);
    const row = () => health.rows().find((r) => r.component === 'flows')!;

    // the source has not failed (still starting): the component's own state shows
    expect(row()).toMatchObject({ state: 'running', detail: 'no sample yet' });
    ss.unavailable('ss not found in /usr/bin; install iproute2');
    expect(row()).toMatchObject({ state: 'unavailable', detail: 'no data yet: its source ss is unavailable (ss not found in /usr/bin; install iproute2)' });
    // the component's own record is untouched: only the table's view changes
    expect(flows.state).toBe('running');

    // the tool is installed, the first sample arrives: the component speaks for itself from now on
    ss.running();
    flows.running('3 open, 0 closed flows');
    ss.unavailable('ss not found again');
    expect(row()).toMatchObject({ state: 'running', detail: '3 open, 0 closed flows' });
  });
});
