/**
 * Strings of the app: `t(key, params?)` over the catalogs `{en, "es-MX"}`.
 *
 * The language comes from the user's choice if one was saved, else from
 * `navigator.languages` (the first entry that is English or any Spanish: every `es*`
 * gets es-MX, the variant clinics asked for), else English. The choice is remembered in
 * localStorage (not secret; the keystore lives elsewhere). Other parts of the web
 * companion raise typed errors with a stable `code` and let the app translate
 * `error.<code>` here: no user-visible text is built anywhere else.
 *
 * A text that carries a count is `tn(key, count)`: its catalog entry has one form per
 * plural category of the language (`Intl.PluralRules`), never "piece(s)".
 */
import { en, pluralsEn, type MessageKey, type PluralKey } from "./strings/en.js";
import { esMX, pluralsEsMX } from "./strings/es-mx.js";

export type Lang = "en" | "es-MX";
export const LANGS: readonly Lang[] = ["en", "es-MX"];
export const LANG_NAMES: Readonly<Record<Lang, string>> = { en: "English", "es-MX": "Español (México)" };
const CATALOGS: Readonly<Record<Lang, Readonly<Record<MessageKey, string>>>> = { en, "es-MX": esMX };

/** One text's forms by plural category; `other` is the one every language has. */
export type PluralForms = Readonly<Partial<Record<Intl.LDMLPluralRule, string>>> & { readonly other: string };
const PLURALS: Readonly<Record<Lang, Readonly<Record<PluralKey, PluralForms>>>> = {
  en: pluralsEn,
  "es-MX": pluralsEsMX,
};
const STORAGE_KEY = "medcrypt.lang";

let current: Lang = "en";
const listeners = new Set<(lang: Lang) => void>();

/** The catalog language for one BCP 47 tag, or null if we have none for it. */
export function langFor(tag: string): Lang | null {
  const primary = tag.toLowerCase().split("-")[0];
  if (primary === "es") return "es-MX";
  if (primary === "en") return "en";
  return null;
}

/** The first of the browser's preferred languages we have a catalog for. */
export function detect(preferred: readonly string[]): Lang {
  for (const tag of preferred) {
    const lang = langFor(tag);
    if (lang) return lang;
  }
  return "en";
}

function saved(storage: Storage | null): Lang | null {
  const value = storage?.getItem(STORAGE_KEY);
  return value === "en" || value === "es-MX" ? value : null;
}

function storageOrNull(): Storage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null; // storage disabled: the choice lasts for this page only
  }
}

/** Choose the language at start: the saved choice, else the browser's. */
export function initLanguage(preferred: readonly string[]): Lang {
  current = saved(storageOrNull()) ?? detect(preferred);
  return current;
}

export function language(): Lang {
  return current;
}

/** Switch and remember; listeners re-render. */
export function setLanguage(lang: Lang): void {
  current = lang;
  storageOrNull()?.setItem(STORAGE_KEY, lang);
  for (const listener of listeners) listener(lang);
}

export function onLanguageChange(listener: (lang: Lang) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

type Params = Readonly<Record<string, string | number>>;

function fill(text: string, params?: Params): string {
  if (!params) return text;
  return text.replace(/\{([a-zA-Z]+)\}/g, (whole, name: string) =>
    Object.hasOwn(params, name) ? String(params[name]) : whole,
  );
}

/** The text of `key` in the current language, `{name}` filled from `params`. */
export function t(key: MessageKey, params?: Params): string {
  return fill(CATALOGS[current][key], params);
}

/** The plural forms of `key` in `lang` (for the tests that walk the catalogs). */
export function pluralForms(lang: Lang, key: PluralKey): PluralForms {
  return PLURALS[lang][key];
}

/**
 * The text of `key` for `count` things: the form of the language's plural category for
 * `count` (`Intl.PluralRules`), with `{count}` written as the locale writes numbers
 * (1,250 in both English and es-MX) and any other `{name}` filled from `params`.
 */
export function tn(key: PluralKey, count: number, params?: Params): string {
  const forms = PLURALS[current][key];
  const form = forms[new Intl.PluralRules(current).select(count)] ?? forms.other;
  return fill(form, { ...params, count: new Intl.NumberFormat(current).format(count) });
}

/**
 * The text for a typed error's stable `code` (crypto/, protocol/, keystore/ errors):
 * `error.<code>` from the catalog, or the generic line naming the code. Never the
 * error's own message, which may quote input.
 */
export function errorText(code: string): string {
  const key = `error.${code}`;
  return Object.hasOwn(CATALOGS[current], key)
    ? t(key as MessageKey)
    : t("error.unknown", { code });
}

export type { MessageKey, PluralKey };
