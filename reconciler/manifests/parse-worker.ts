// A parse worker of parse-pool.ts: waits for its one WorkerRequest, takes files from the shared
// counter until none is left, posts each parsed file back, then ends.
import { parentPort } from 'node:worker_threads';
import { parseManifestFile } from './parse.ts';
import { takeNext, type WorkerRequest, type WorkerResult } from './parse-pool.ts';

parentPort!.once('message', ({ jobs, next, limits }: WorkerRequest) => {
  for (let i = takeNext(next, jobs.length); i >= 0; i = takeNext(next, jobs.length)) {
    const result: WorkerResult = { index: i, parsed: parseManifestFile(jobs[i]!.file, jobs[i]!.bytes, limits) };
    parentPort!.postMessage(result);
  }
  parentPort!.close();
});
