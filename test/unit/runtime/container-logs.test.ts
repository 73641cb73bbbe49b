// Container log files: the CRI format conmon writes (streams in one file, P fragments, nanosecond
// times with a zone), the plain format of the earlier sh/awk shim, and rotation by hard link as
// conmon replaces a full file. Pure file operations in a temp directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONTAINER_LOG, LineDecoder, LogFollower, conmonArgv, criTime, logFiles, parseSyncMessage, readLogs, rotateLogs } from '../../../runtime/container/index.ts';

function scratch(): string {
  return fs.mkdtempSync(join(tmpdir(), 'gitcell-logs-'));
}

test('criTime turns conmon\'s nanosecond times into ISO 8601 UTC with milliseconds', () => {
  assert.equal(criTime('2026-12-04T21:19:30.123456789+00:00'), '2026-12-04T21:19:30.123Z');
  assert.equal(criTime('2026-12-04T23:19:30.500000000+02:00'), '2026-12-04T21:19:30.500Z');
});

test('LineDecoder keeps one stream and joins P fragments to the line that ends them', () => {
  const d = new LineDecoder('stdout', true);
  assert.equal(d.decode('2026-12-04T21:19:30.100000000+00:00 stderr F not mine'), undefined);
  assert.equal(d.decode('2026-12-04T21:19:30.100000000+00:00 stdout P hel'), undefined);
  assert.deepEqual(d.decode('2026-12-04T21:19:31.000000000+00:00 stdout F lo world'), { stream: 'stdout', time: '2026-12-04T21:19:30.100Z', text: 'hello world' });
  assert.deepEqual(d.decode('2026-12-04T21:19:32.000000000+00:00 stdout F '), { stream: 'stdout', time: '2026-12-04T21:19:32.000Z', text: '' });
  assert.equal(d.decode('garbage'), undefined, 'a line that is not CRI is skipped, not thrown on');
  assert.deepEqual(new LineDecoder('stderr', false).decode('2026-01-01T00:00:00Z plain text'), { stream: 'stderr', time: '2026-01-01T00:00:00Z', text: 'plain text' });
});

test('readLogs reads both formats; a follower filters its stream out of the shared file', () => {
  const dir = scratch();
  try {
    fs.writeFileSync(join(dir, CONTAINER_LOG), '2026-12-04T21:19:30.000000000+00:00 stdout F one\n2026-12-04T21:19:30.100000000+00:00 stderr F two\n');
    assert.deepEqual(readLogs(dir).map((l) => `${l.stream}:${l.text}`), ['stdout:one', 'stderr:two']);
    const f = new LogFollower(join(dir, CONTAINER_LOG), 'stderr');
    assert.deepEqual(f.poll().map((l) => l.text), ['two']);
    fs.appendFileSync(join(dir, CONTAINER_LOG), '2026-12-04T21:19:31.000000000+00:00 stderr P thr');
    assert.deepEqual(f.poll(), [], 'an unterminated line waits');
    fs.appendFileSync(join(dir, CONTAINER_LOG), 'ee\n2026-12-04T21:19:31.000000000+00:00 stderr F !\n');
    assert.deepEqual(f.poll().map((l) => l.text), ['three!']);
    fs.appendFileSync(join(dir, CONTAINER_LOG), '2026-12-04T21:19:32.000000000+00:00 stderr P no newline at the end\n');
    assert.deepEqual(f.poll().map((l) => l.text), [], 'the writer may still end the line');
    assert.deepEqual(f.poll(true).map((l) => l.text), ['no newline at the end'], 'once it exited, the fragment is the last line');
    assert.equal(readLogs(dir).at(-1)?.text, 'no newline at the end');
    f.close();
    const old = scratch();
    fs.writeFileSync(join(old, 'stdout.log.1'), '2026-01-01T00:00:00Z a\n');
    fs.writeFileSync(join(old, 'stdout.log'), '2026-01-01T00:00:01Z b\n');
    assert.deepEqual(readLogs(old).map((l) => l.text), ['a', 'b'], 'the sh shim\'s files still read');
    fs.rmSync(old, { recursive: true });
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});

test('rotateLogs keeps the files conmon replaces, up to keep, through a hard link', () => {
  const dir = scratch();
  const cur = join(dir, CONTAINER_LOG);
  const line = (n: number) => `2026-12-04T21:19:3${n}.000000000+00:00 stdout F file ${n}\n`;
  // conmon's replacement: a new file renamed over container.log
  const conmonReplaces = (n: number) => { fs.writeFileSync(`${cur}.tmp`, line(n)); fs.renameSync(`${cur}.tmp`, cur); };
  try {
    rotateLogs(dir, 2); // nothing yet: no error
    fs.writeFileSync(cur, line(0));
    rotateLogs(dir, 2);
    rotateLogs(dir, 2); // idempotent while conmon writes the same file
    assert.deepEqual(logFiles(dir, 'stdout').map((p) => p.slice(dir.length + 1)), ['container.log'], 'the link to the current file is not listed twice');
    for (let n = 1; n <= 3; n++) {
      conmonReplaces(n);
      assert.equal(readLogs(dir).at(-1)?.text, `file ${n}`, 'the replaced file is still read through its link');
      rotateLogs(dir, 2);
    }
    assert.deepEqual(logFiles(dir, 'stdout').map((p) => p.slice(dir.length + 1)), ['container.log.2', 'container.log.1', 'container.log']);
    assert.deepEqual(readLogs(dir).map((l) => l.text), ['file 1', 'file 2', 'file 3'], 'the two newest earlier files are kept, the oldest dropped');
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});

test('conmon reports its pid or runc\'s error on the sync pipe; its command line keeps paths absolute', () => {
  assert.deepEqual(parseSyncMessage('{"data": 4242}'), { pid: 4242 });
  assert.deepEqual(parseSyncMessage('{"data": -1, "message": "exec: \\"/x\\": no such file"}'), { error: 'exec: "/x": no such file' });
  assert.match((parseSyncMessage('not json') as { error: string }).error, /unreadable/);
  const argv = conmonArgv({ conmon: '/usr/bin/conmon', runc: '/usr/sbin/runc', runcRoot: '/r/runc', id: 'abc', dir: '/r/c/abc', exitDir: '/r/exits', logDir: '/r/c/abc/logs', logMaxBytes: 100, bundle: '/r/c/abc' });
  assert.equal(argv[argv.indexOf('-l') + 1], 'k8s-file:/r/c/abc/logs/container.log');
  assert.equal(argv[argv.indexOf('--log-size-max') + 1], '100');
  assert.equal(argv[argv.indexOf('--persist-dir') + 1], '/r/c/abc');
});
