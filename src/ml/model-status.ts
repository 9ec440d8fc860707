import type { Detector } from './detector.js';

export type ModelStatus =
  | {
      loaded: true;
      sha256: string;
      path: string;
      task: 'detect' | 'segment';
      names: Record<string, string>;
      imgsz: [number, number];
      stride: number;
      batch: number | null;
      version?: string;
    }
  | { loaded: false; path: string; error: string };

/** A detector whose sessions all died and cannot be started again counts as not loaded. */
export function modelStatusOf(detector: Detector | null, path: string, error: string | null): ModelStatus {
  if (!detector) return { loaded: false, path, error: error ?? 'model not loaded' };
  if (detector.unavailableReason) return { loaded: false, path: detector.info.path, error: detector.unavailableReason };
  const { sha256, task, names, imgsz, stride, batch, version } = detector.info;
  return { loaded: true, sha256, path: detector.info.path, task, names, imgsz, stride, batch, ...(version ? { version } : {}) };
}
