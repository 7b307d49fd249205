// The 21×21 filter-normalised plane around the ResNet-18 fixture, through the queue, by hand (too slow for
// CI on two cores): `npm run build && LINPATH_FIXTURES=../shared/fixtures node scripts/landscape-resnet-plane.mjs [resolution]`.
// It imports resnet18/final and the test set into a fresh embedded LINPATH_HOME with the compiled CLI, draws the
// directions of test/fixtures/landscape (seeds 11 and 12, weights, biasbn zeroed), asks `linpath plane` for the grid
// over [−1, 1]² on the first 50 images, and prints the wall time, the time per point and the largest difference from
// the PyTorch losses of test/fixtures/landscape/resnet18.json at the reference points on the grid.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const root = fileURLToPath(new URL('..', import.meta.url));
const fixtures = process.env.LINPATH_FIXTURES ?? path.join(root, 'test/fixtures/generated');
const resolution = Number(process.argv[2] ?? 21);
const home = mkdtempSync(path.join(tmpdir(), 'linpath-resnet-plane-'));
const env = { ...process.env, LINPATH_HOME: home, LINPATH_DEMO: '0', LINPATH_MAX_WAIT_MS: '86400000' };
const linpath = (...args) =>
  execFileSync(process.execPath, [path.join(root, 'bin/linpath.js'), ...args], {
    env,
    encoding: 'utf8',
    maxBuffer: 64 * 2 ** 20,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
try {
  const checkpoint = path.join(home, 'final.safetensors');
  writeFileSync(checkpoint, gunzipSync(readFileSync(path.join(fixtures, 'resnet18/final.safetensors.gz'))));
  const { checkpoint: final } = JSON.parse(
    linpath(
      'import',
      'checkpoint',
      checkpoint,
      '--run',
      'resnet',
      '--step',
      '150',
      '--role',
      'final',
      '--arch',
      'resnet18-cifar',
    ),
  );
  linpath(
    'import',
    'dataset',
    path.join(fixtures, 'resnet18/test_set.safetensors'),
    '--name',
    'shapes',
    '--split',
    'test',
    '--input-key',
    'images_f32_nchw',
    '--label-key',
    'labels',
  );
  const started = performance.now();
  const plane = JSON.parse(
    linpath(
      'plane',
      '--center',
      final.id,
      '--x-seed',
      '11',
      '--y-seed',
      '12',
      '--dataset',
      'shapes:test',
      '--limit',
      '50',
      '--range',
      '-1:1,-1:1',
      '--resolution',
      String(resolution),
      '--timeout',
      '86400000',
      '--json',
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  const reference = JSON.parse(readFileSync(path.join(root, 'test/fixtures/landscape/resnet18.json'), 'utf8'));
  let worst = 0;
  let compared = 0;
  for (const point of reference.planes.directions.points) {
    const i = plane.xs.indexOf(point.x);
    const j = plane.ys.indexOf(point.y);
    if (i < 0 || j < 0) continue;
    worst = Math.max(worst, Math.abs(plane.loss[j][i] - point.loss));
    compared++;
  }
  const points = plane.progress.total;
  console.log(
    JSON.stringify({
      resolution,
      status: plane.status,
      points,
      seconds: Number(seconds.toFixed(1)),
      secondsPerPoint: Number((seconds / points).toFixed(3)),
      comparedWithPyTorch: compared,
      worstLossDifference: worst,
    }),
  );
} finally {
  rmSync(home, { recursive: true, force: true });
}
