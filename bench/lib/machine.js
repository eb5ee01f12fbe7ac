// The machine context printed with (and saved beside) every result.
import { existsSync, readFileSync, statfsSync } from 'node:fs';
import os from 'node:os';

/** The mount holding `path` (longest mount-point prefix in /proc/mounts): { device, mountPoint, type, options }. */
export function mountOf(path) {
  if (!existsSync('/proc/mounts')) return null;
  let best = null;
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
    const [device, mountPoint, type, options] = line.split(' ');
    if (!mountPoint) continue;
    const mp = mountPoint.replace(/\\040/g, ' ');
    const inside = mp === '/' || path === mp || path.startsWith(`${mp}/`);
    if (inside && (best === null || mp.length >= best.mountPoint.length)) best = { device, mountPoint: mp, type, options };
  }
  return best;
}

/** Free bytes available to this user on the file system holding `path`. */
export function freeBytes(path) {
  const s = statfsSync(path);
  return Number(s.bavail) * Number(s.bsize);
}

export function machineContext() {
  const cpus = os.cpus();
  const tmp = os.tmpdir();
  const mount = mountOf(tmp);
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpus: cpus.length,
    availableParallelism: os.availableParallelism?.() ?? cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    tmpdir: tmp,
    fs: mount ? `${mount.type} on ${mount.device} (${mount.mountPoint})` : 'unknown',
    freeGiB: Math.round((freeBytes(tmp) / 2 ** 30) * 10) / 10,
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}
