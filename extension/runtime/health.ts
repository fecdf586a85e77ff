/**
 * Collector health, surfaced by the outflow_status table (SPEC §2): one row per component.
 * A missing tool or permission is a state here, never an exception that reaches osquery.
 */
export type HealthState = 'running' | 'degraded' | 'unavailable' | 'permission_denied' | 'disabled';

export interface HealthRow {
  component: string;
  platform: string;
  state: HealthState;
  detail: string;
  events: number;
  dropped: number;
  last_event: number;
  version: string;
}

export class ComponentHealth {
  state: HealthState = 'running';
  detail = 'starting';
  events = 0;
  dropped = 0;
  lastEvent = 0;
  /** How many times the state was set (a collector tells whether its tick reported one). */
  sets = 0;
  /**
   * The component this one's first data comes from (the flow store waits on nettop or ss). Until this
   * component sets a state of its own, its row shows the source's failure instead of a "running" that
   * will never get data: an admin filtering `state != 'running'` sees the flows row too.
   */
  private source: ComponentHealth | undefined;

  constructor(
    readonly component: string,
    private readonly now: () => number,
  ) {}

  set(state: HealthState, detail: string): void {
    this.state = state;
    this.detail = detail;
    this.sets++;
    this.source = undefined;
  }
  /** Report `source`'s failure as this component's own until this component next sets a state. */
  awaitFirstDataFrom(source: ComponentHealth): void {
    this.source = source;
  }
  /** The state and detail the health table shows. */
  reported(): { state: HealthState; detail: string } {
    const src = this.source;
    if (src === undefined || src.state === 'running') return { state: this.state, detail: this.detail };
    return { state: src.state, detail: `no data yet: its source ${src.component} is ${src.state.replace('_', ' ')} (${src.detail})` };
  }
  running(detail = 'ok'): void {
    this.set('running', detail);
  }
  degraded(detail: string): void {
    this.set('degraded', detail);
  }
  unavailable(detail: string): void {
    this.set('unavailable', detail);
  }
  permissionDenied(detail: string): void {
    this.set('permission_denied', detail);
  }
  disabled(detail: string): void {
    this.set('disabled', detail);
  }
  /** Count n accepted events and stamp last_event. */
  event(n = 1, at?: number): void {
    this.events += n;
    this.lastEvent = at ?? this.now();
  }
  drop(n = 1): void {
    this.dropped += n;
  }
}

export class HealthRegistry {
  private readonly components = new Map<string, ComponentHealth>();

  constructor(
    readonly platform: string,
    readonly version: string,
    private readonly now: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  /** Get or create the health record of a component (e.g. "nettop", "eslogger", "signing"). */
  component(name: string): ComponentHealth {
    let c = this.components.get(name);
    if (!c) {
      c = new ComponentHealth(name, this.now);
      this.components.set(name, c);
    }
    return c;
  }

  rows(): HealthRow[] {
    return [...this.components.values()].map((c) => ({
      component: c.component,
      platform: this.platform,
      ...c.reported(),
      events: c.events,
      dropped: c.dropped,
      last_event: c.lastEvent,
      version: this.version,
    }));
  }
}
