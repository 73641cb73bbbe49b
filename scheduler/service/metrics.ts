/**
 * The scheduler's Prometheus metrics, fed from each pass's report: passes, bindings, preemptions,
 * lost races, tasks left pending, and whether this replica leads.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { PassReport } from './service.ts';

/** SchedulerMetrics are the series one scheduler replica exports. */
export class SchedulerMetrics {
  readonly registry = new Registry();
  readonly passes = new Counter({ name: 'gitcell_scheduler_passes_total', help: 'Scheduling passes by completeness', labelNames: ['complete'], registers: [this.registry] });
  readonly bound = new Counter({ name: 'gitcell_scheduler_bindings_total', help: 'Tasks bound to nodes', registers: [this.registry] });
  readonly unbound = new Counter({ name: 'gitcell_scheduler_unbindings_total', help: 'Bindings removed (lost nodes, preemption victims)', registers: [this.registry] });
  readonly preempted = new Counter({ name: 'gitcell_scheduler_preemptions_total', help: 'Tasks preempted for higher-priority ones', registers: [this.registry] });
  readonly lostRaces = new Counter({ name: 'gitcell_scheduler_lost_races_total', help: 'Bindings another writer got to first', registers: [this.registry] });
  readonly pending = new Gauge({ name: 'gitcell_scheduler_pending_tasks', help: 'Tasks no node could take in the last pass', registers: [this.registry] });
  readonly term = new Gauge({ name: 'gitcell_scheduler_leader_term', help: 'Leader term of the last pass this replica ran (0: never led)', registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'gitcell_scheduler_' });
  }

  /** observePass records one pass's report. */
  observePass(r: PassReport): void {
    this.passes.inc({ complete: String(r.complete) });
    this.bound.inc(r.bound);
    this.unbound.inc(r.unbound);
    this.preempted.inc(r.preempted);
    this.lostRaces.inc(r.lostRaces);
    this.pending.set(r.unplaced);
    this.term.set(r.term);
  }
}
