// A parse worker of parse-pool.ts: waits for its one WorkerRequest, takes files from the shared
// counter until none is left, posts each parsed file back, then ends.
import { parentPort } from 'node:worker_threads';
import { parseManifestFile } from './parse.ts';
import { takeNext, type WorkerRequest, type WorkerResult } from './parse-pool.ts';

parentPort!.once('message', ({ files, offsets, data, next, limits }: WorkerRequest) => {
  for (let i = takeNext(next, files.length); i >= 0; i = takeNext(next, files.length)) {
    // A copy out of shared memory: TextDecoder does not decode a view of a SharedArrayBuffer.
    const bytes = data.slice(offsets[i]!, offsets[i + 1]!);
    const result: WorkerResult = { index: i, parsed: parseManifestFile(files[i]!, bytes, limits) };
    parentPort!.postMessage(result);
  }
  parentPort!.close();
});
