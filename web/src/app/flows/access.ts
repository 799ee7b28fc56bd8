/**
 * Setup and unlock: the one screen that opens the keystore (web/src/keystore).
 *
 * - No keystore in this browser: setup. The app draws the passphrase (five words from the
 *   BIP-39 list of the user's language, web/src/keystore/passphrase.ts, ADR 0042), shows
 *   it once with "write these down", and sets up only after the user typed it back (any
 *   case, accents or spacing): a passphrase nobody wrote down is a keystore nobody can
 *   open again. After setup the screen shows the purge risk the browser reported
 *   (Safari's 7 days, best-effort storage) and asks for an encrypted export at once,
 *   because a purge loses every pairing and an export is the only protection (ADR 0030).
 * - A keystore: unlock. A wrong passphrase is `keystore_wrong_passphrase`; a second tab is
 *   `keystore_open_in_another_tab` (the keystore's Web Lock). Both are shown as their
 *   translated code and nothing is written.
 * - Unlocked: a "Lock now" button (zeroes the derived key, drops the document).
 *
 * Why the setup passphrase is kept in memory until the export prompt is answered: the
 * export is sealed under the same passphrase, and asking for it twice in a row is how
 * people end up with a typo in the one copy they keep. It is dropped on export, on
 * "Later" and on lock. JavaScript cannot zero a string; the garbage collector frees it.
 */
import { h, replaceChildren } from "../dom.js";
import { language, t, tn } from "../i18n.js";
import { defineScreen } from "../screens.js";
import {
  Keystore, canonicalOf, exportFileName, generatePassphrase, EXPORT_MIME, WORD_COUNT,
  type GeneratedPassphrase, type PurgeRisk, type WordLanguage,
} from "../../keystore/index.js";
import { button, errorLine, field, say, section, statusLine } from "./ui.js";
import { newIdentityMembers, setVault, vault } from "./vault.js";

interface PendingExport {
  passphrase: string;
  risk: PurgeRisk;
}

let pending: PendingExport | null = null;
let known: boolean | null = null; // whether a keystore exists, once asked

/** The passphrase drawn for setup, until the keystore is made (or the tab closes). */
interface Draft {
  readonly passphrase: GeneratedPassphrase;
  step: "words" | "confirm";
}

let draft: Draft | null = null;

const wordLanguage = (): WordLanguage => (language() === "es-MX" ? "es" : "en");

function password(autocomplete: string, name: string): HTMLInputElement {
  return h("input", { type: "password", autocomplete, name, required: true, spellcheck: "false" });
}

function busy(form: HTMLFormElement, on: boolean): void {
  for (const el of form.querySelectorAll("input, button")) (el as HTMLInputElement).disabled = on;
}

/** The drawn words, once, with "write these down"; the list carries the words' language. */
function wordsStep(d: Draft, redraw: () => void): HTMLElement {
  const list = h("ol", { class: "words", "data-passphrase": String(WORD_COUNT), lang: d.passphrase.language },
    ...d.passphrase.words.map((w) => h("li", { "data-word": "" }, w)));
  const written = button("setup.written", () => {
    d.step = "confirm";
    redraw();
  }, { class: "primary", "data-action": "words-written" });
  const other = button("setup.other", () => {
    draft = null;
    redraw();
  }, { "data-action": "new-words" });
  return h("div", { class: "card", "data-step": "words" },
    h("h3", {}, t("setup.words.title")),
    h("p", {}, tn("setup.words.body", WORD_COUNT)),
    list,
    h("p", { class: "muted" }, t("setup.words.why")),
    h("div", { class: "actions" }, written, other));
}

/** Typing the words back: only a passphrase the user holds on paper makes a keystore. */
function confirmStep(d: Draft, done: () => void, redraw: () => void): HTMLElement {
  const typed = h("input", { type: "text", name: "passphrase", autocomplete: "off", autocapitalize: "none",
    spellcheck: "false", required: true });
  const status = statusLine();
  const error = errorLine();
  const back = button("setup.show", () => {
    d.step = "words";
    redraw();
  }, { "data-action": "show-words" });
  const form = h("form", { "data-form": "setup", novalidate: true },
    field("setup.confirm", typed, "setup.confirm.help"),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("setup.submit")), back),
    status, error);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    error.clear();
    if (canonicalOf(typed.value) !== d.passphrase.canonical) {
      error.hidden = false;
      error.dataset["error"] = "mismatch";
      error.textContent = t("setup.mismatch");
      typed.focus();
      return;
    }
    void (async () => {
      busy(form, true);
      say(status, "setup.working");
      try {
        const created = await Keystore.create(d.passphrase.canonical, await newIdentityMembers());
        pending = { passphrase: d.passphrase.canonical, risk: created.storage.risk };
        typed.value = "";
        draft = null;
        known = true;
        setVault(created.store);
        done();
      } catch (e) {
        status.textContent = "";
        error.show(e);
        busy(form, false);
        typed.focus();
      }
    })();
  });
  return h("div", { class: "card", "data-step": "confirm" }, form);
}

/**
 * Setup: draw (in the words' language of the moment), show, confirm. A draft not yet
 * confirmed follows a language switch; one being typed back stays as written down.
 */
function setupView(done: () => void): HTMLElement {
  const body = h("div", { "data-setup": "loading" });
  const draw = (): void => {
    if (draft === null || (draft.step === "words" && draft.passphrase.language !== wordLanguage())) {
      void generatePassphrase(wordLanguage()).then((passphrase) => {
        // Two draws can be in flight (a language switch re-renders): keep one, the
        // language's of the moment, so the words shown are always the words expected.
        const stale = draft === null || (draft.step === "words" && draft.passphrase.language !== wordLanguage());
        if (stale && passphrase.language === wordLanguage()) draft = { passphrase, step: "words" };
        draw();
      }, (e: unknown) => {
        const error = errorLine();
        error.show(e);
        replaceChildren(body, error);
      });
      return;
    }
    const d = draft;
    body.dataset["setup"] = d.step;
    replaceChildren(body, d.step === "words" ? wordsStep(d, draw) : confirmStep(d, done, draw));
    (body.querySelector("input") ?? body.querySelector("button"))?.focus();
  };
  draw();
  return h("div", {}, h("p", {}, t("setup.intro")), body);
}

function exportPrompt(p: PendingExport, done: () => void): HTMLElement {
  const status = statusLine();
  const error = errorLine();
  const finish = (): void => {
    pending = null;
    done();
  };
  const save = button("export.save", async () => {
    const store = vault();
    if (store === null) return finish();
    save.disabled = true;
    error.clear();
    try {
      const bytes = await store.exportSealed(p.passphrase);
      const name = exportFileName(new Date());
      const url = URL.createObjectURL(new Blob([new Uint8Array(bytes)], { type: EXPORT_MIME }));
      const link = h("a", { href: url, download: name });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      pending = null;
      say(status, "export.saved", { name });
      skip.remove();
    } catch (e) {
      error.show(e);
      save.disabled = false;
    }
  }, { class: "primary", "data-action": "export" });
  const skip = button("export.skip", finish, { "data-action": "export-later" });
  return h("div", { class: "card", "data-step": "export" },
    h("p", { class: "banner", "data-purge": p.risk }, t(`purge.${p.risk}`)),
    h("h3", {}, t("export.title")),
    h("p", {}, t("export.body")),
    h("div", { class: "actions" }, save, skip),
    status, error);
}

function unlockForm(done: () => void): HTMLElement {
  const pass = password("current-password", "passphrase");
  const status = statusLine();
  const error = errorLine();
  const form = h("form", { "data-form": "unlock", novalidate: true },
    field("unlock.passphrase", pass),
    h("button", { type: "submit", class: "primary" }, t("unlock.submit")),
    status, error);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    error.clear();
    void (async () => {
      busy(form, true);
      say(status, "unlock.working");
      try {
        const store = await Keystore.unlock(pass.value);
        pass.value = "";
        setVault(store);
        done();
      } catch (e) {
        status.textContent = "";
        error.show(e);
        busy(form, false);
        pass.select();
        pass.focus();
      }
    })();
  });
  return h("div", {}, h("p", {}, t("unlock.intro")), form);
}

function unlockedView(redraw: () => void): HTMLElement {
  const lock = button("unlock.lock", () => {
    pending = null;
    setVault(null);
    redraw();
  }, { "data-action": "lock" });
  const due = vault()?.exportDue() ?? [];
  return h("div", { class: "card", "data-step": "unlocked" },
    h("p", { role: "status" }, t("unlock.done")),
    due.length ? h("p", { class: "banner", "data-export-due": String(due.length) }, t("export.due")) : null,
    h("div", { class: "actions" }, lock));
}

/**
 * Ask IndexedDB, once per page, whether a keystore exists; main.ts calls this at start-up.
 * Why then: the first open of the database in a new browser process is the slow one
 * (Chromium opens the origin's backing store), and doing it while the home screen is on
 * view means the unlock form draws at once and the unlock's own open finds the store
 * warm. It reads no secret and takes no lock: the unlock still takes the tab lock before
 * it reads the sealed record.
 */
let asking: Promise<void> | null = null;

export function askKeystoreExists(): Promise<void> {
  asking ??= Keystore.exists().then((exists) => {
    known ??= exists;
  }, () => {
    known ??= false;
  });
  return asking;
}

export const access = defineScreen({
  id: "unlock",
  title: "unlock.title",
  nav: "nav.unlock",
  render(ctx) {
    const body = h("div", { "data-access": "loading" });
    const root = section("access", "unlock.title", body);
    const draw = (): void => {
      const title = root.querySelector("h2");
      if (vault() !== null) {
        if (title) title.textContent = t(pending ? "setup.title" : "unlock.title");
        body.dataset["access"] = pending ? "export" : "unlocked";
        replaceChildren(body, pending
          ? exportPrompt(pending, () => ctx.show("pair"))
          : unlockedView(draw));
        return;
      }
      pending = null;
      if (known === null) {
        void askKeystoreExists().then(draw);
        return;
      }
      if (title) title.textContent = t(known ? "unlock.title" : "setup.title");
      body.dataset["access"] = known ? "unlock" : "setup";
      replaceChildren(body, known ? unlockForm(() => ctx.show("pair")) : setupView(draw));
      body.querySelector("input")?.focus();
    };
    draw();
    return root;
  },
});
