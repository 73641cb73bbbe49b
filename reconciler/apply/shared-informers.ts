/**
 * The task informers the reconciler's loops share: one watch of `tasks`, `status` and `bindings` per
 * leader term instead of one per loop. At 100,000 tasks each watch is a consumer the server
 * delivers every task write to; the controllers and endpoints loops read the same copy, and the
 * controllers' own writes (`apply`) reach the endpoints loop at once instead of by echo.
 */
import type { Binding, TaskSpec, TaskStatus } from '../../api/index.ts';
import type { Logger } from '../../lib/index.ts';
import { Informer, type Bucket, type InformerChange } from '../../store/index.ts';

/** TaskInformers are the shared copies of the task buckets. */
export interface TaskInformers {
  tasks: Informer<TaskSpec>;
  statuses: Informer<TaskStatus>;
  bindings: Informer<Binding>;
}

/** openTaskInformers starts the shared informers of `store`'s task buckets; they follow until `signal` aborts. */
export function openTaskInformers(store: { tasks: Bucket<TaskSpec>; status: Bucket<TaskStatus>; bindings: Bucket<Binding> }, signal: AbortSignal, log?: Logger): TaskInformers {
  const common = { signal, ...(log ? { log } : {}) };
  return { tasks: new Informer(store.tasks, common), statuses: new Informer(store.status, common), bindings: new Informer(store.bindings, common) };
}

/**
 * sharedOr returns `shared` with `onChange` listening to it until `signal` aborts, or else a new
 * informer of `bucket` of the loop's own (made by `own`).
 */
export function sharedOr<T>(shared: Informer<T> | undefined, own: () => Informer<T>, onChange: (c: InformerChange<T>) => void, signal: AbortSignal): Informer<T> {
  if (!shared) return own();
  const unlisten = shared.listen(onChange);
  signal.addEventListener('abort', unlisten, { once: true });
  return shared;
}
