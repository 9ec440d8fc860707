/**
 * The message catalogs and the chosen language: Russian by default, English selectable,
 * remembered on this device. Components read `m()` so a switch re-renders them.
 */
import { en } from './en';
import { ru, type Messages } from './ru';

export type Locale = 'ru' | 'en';
export const LOCALES: Locale[] = ['ru', 'en'];
const catalogs: Record<Locale, Messages> = { ru, en };
const STORAGE_KEY = 'toolcontrol.locale';

function initialLocale(): Locale {
  try {
    const saved = globalThis.localStorage?.getItem(STORAGE_KEY);
    if (saved === 'ru' || saved === 'en') return saved;
  } catch {
    // storage blocked: the default
  }
  return 'ru';
}

const state = $state({ locale: initialLocale() });

export function m(): Messages {
  return catalogs[state.locale];
}

export function locale(): Locale {
  return state.locale;
}

export function setLocale(next: Locale): void {
  state.locale = next;
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    // not remembered, still switched
  }
  document.documentElement.lang = next;
}

/** Date and time as people at the counter read them: 04.12.2026, 14:05. */
export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  return new Date(iso).toLocaleString(state.locale === 'ru' ? 'ru-RU' : 'en-GB', {
    day: '2-digit',
    month: '2-digit',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  });
}

export function formatNumber(n: number, digits = 2): string {
  return n.toLocaleString(state.locale === 'ru' ? 'ru-RU' : 'en-GB', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
