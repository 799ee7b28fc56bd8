/**
 * Threads: one per pairing, under the name the user gave it, with the "verified" badge,
 * times in the browser's local format, and the shredded months as a line each.
 *
 * In: tokens pasted (the chat's text whole), or waiting in the inbox (a `#token` link
 * or Android's share target, inbound.ts); parts are collected in any order and opened
 * when complete. Out: the text is sealed and split for the chosen platform's limit, each
 * piece with one Share/Copy button. Peer text is shown through `textContent` only
 * (dom.ts `peerText`); a token that does not open shows its typed error and changes
 * nothing.
 */
import { h, peerText, replaceChildren } from "../dom.js";
import { language, t, tn } from "../i18n.js";
import { defineScreen, type ScreenContext } from "../screens.js";
import { findTokens } from "../inbound.js";
import { PartAssembler } from "../../protocol/parts.js";
import { pairingViews } from "./pairing-store.js";
import { appsTooSmallFor, download, openAttachment, sealAttachment } from "./files.js";
import { collect, open, runCalendar, seal, sealManifest, threadOf, type Line, type Platform } from "./thread-store.js";
import { button, errorLine, field, filePicker, handOff, section } from "./ui.js";
import { vault } from "./vault.js";

let selected: string | null = null;
let platform: Platform = "whatsapp";
let outgoing: string[] = [];
const assemblers = new Map<string, PartAssembler>();
let handled = 0; // pastes processed, for `data-handled` (tests wait on it)
let lastError: unknown = null; // the last paste's error, shown again after the redraw
let sizeWarnings: ReturnType<typeof appsTooSmallFor> = []; // the last attached file's
// The frame re-renders a screen from scratch (language, inbox changes): async work
// redraws whatever render is current, never a detached one.
let activeRedraw: (() => void) | null = null;
const now = (): Date => new Date();

function assembler(id: string): PartAssembler {
  let a = assemblers.get(id);
  if (a === undefined) {
    a = new PartAssembler();
    assemblers.set(id, a);
  }
  return a;
}

// One formatter per language, made on first use: building an Intl.DateTimeFormat costs
// far more than formatting with one, and a thread draws a time on every line.
const timeFormats = new Map<string, Intl.DateTimeFormat>();

function when(iso: string): string {
  const lang = language();
  let format = timeFormats.get(lang);
  if (format === undefined) {
    format = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });
    timeFormats.set(lang, format);
  }
  return format.format(new Date(iso));
}

function fileControls(id: string, line: Line): HTMLElement | null {
  const file = line.file;
  if (file === undefined) return null;
  const size = new Intl.NumberFormat(language(), { style: "unit", unit: "kilobyte", maximumFractionDigits: 0 })
    .format(Math.ceil(file.size / 1024));
  const info = h("p", { class: "muted" }, t("file.line", { size }));
  if (line.dir === "out") return info;
  const error = errorLine();
  const input = h("input", { type: "file", name: "container", accept: ".mcf,application/octet-stream" });
  input.addEventListener("change", () => {
    const container = input.files?.[0];
    if (!container) return;
    error.clear();
    void openAttachment(id, file.manifest, container).then(({ blob, manifest }) => {
      download(blob, manifest.name);
      input.dataset["opened"] = "1";
    }, (e: unknown) => error.show(e));
  });
  return h("div", { "data-file": file.name }, info, filePicker("file.open", input), error);
}

function lineView(id: string, line: Line): HTMLElement {
  return h("li", { class: `msg ${line.dir}`, "data-dir": line.dir },
    h("span", { class: "muted when" }, `${t(line.dir === "in" ? "thread.from" : "thread.me")} · ${when(line.at)}`),
    peerText(line.text, "p"), fileControls(id, line));
}

function list(redraw: () => void): HTMLElement {
  const store = vault();
  const views = store ? pairingViews(store.document) : [];
  if (views.length === 0) return h("p", { "data-threads": "0" }, t("thread.none"));
  return h("ul", { class: "pairings", "data-threads": String(views.length) }, ...views.map((v) => {
    const b = h("button", { type: "button", "data-thread": v.id }, v.name);
    b.addEventListener("click", () => {
      selected = v.id;
      outgoing = [];
      lastError = null;
      // The calendar runs at every open, as the CLI shreds at every unlock.
      if (store) void runCalendar(store, v.id, now).then(redraw, redraw);
      else redraw();
    });
    return h("li", {}, b, " ", h("span", { class: v.verified ? "badge verified" : "badge",
      "data-verified": String(v.verified) }, t(v.verified ? "verify.verified" : "verify.unverified")));
  }));
}

function thread(ctx: ScreenContext, id: string, redraw: () => void): HTMLElement {
  const store = vault();
  const view = store ? pairingViews(store.document).find((p) => p.id === id) : undefined;
  if (store === null || view === undefined) {
    selected = null;
    return list(redraw);
  }
  const error = errorLine();
  if (lastError !== null) error.show(lastError);
  const stored = threadOf(store.document, id);
  const lines = h("ol", { class: "thread", "aria-live": "polite" },
    ...stored.shredded.map((m) => h("li", { class: "shredded muted", "data-shredded": m }, t("thread.shredded", { month: m }))),
    ...stored.lines.map((l) => lineView(id, l)));
  const receiveText = async (text: string): Promise<void> => {
    lastError = null;
    const tokens = findTokens(text);
    if (tokens.length === 0 && text.trim()) tokens.push(text.trim()); // let the parser say why
    try {
      for (const token of collect(assembler(id), tokens)) await open(store, id, token, now);
    } catch (e) {
      lastError = e;
    }
    handled += 1;
    draw();
  };
  const paste = h("textarea", { rows: "3", name: "incoming", spellcheck: "false", autocomplete: "off" });
  const openBtn = button("thread.open", async () => {
    const text = paste.value;
    paste.value = "";
    await receiveText(text);
  }, { "data-action": "open" });
  const compose = h("textarea", { rows: "3", name: "compose" });
  const dest = h("select", { name: "platform" },
    h("option", { value: "whatsapp", selected: platform === "whatsapp" }, "WhatsApp"),
    h("option", { value: "telegram", selected: platform === "telegram" }, "Telegram"));
  dest.addEventListener("change", () => {
    platform = dest.value === "telegram" ? "telegram" : "whatsapp";
  });
  const destId = `dest-${id.slice(0, 8)}`;
  dest.id = destId;
  const send = button("thread.seal", async () => {
    if (!compose.value) return;
    error.clear();
    lastError = null;
    try {
      outgoing = await seal(store, id, compose.value, platform, now);
      compose.value = "";
      draw();
    } catch (e) {
      error.show(e);
    }
  }, { class: "primary", "data-action": "seal" });
  const attach = h("input", { type: "file", name: "attach", accept: "image/*,application/pdf" });
  attach.addEventListener("change", () => {
    const file = attach.files?.[0];
    if (!file) return;
    error.clear();
    lastError = null;
    sizeWarnings = appsTooSmallFor(file.size);
    draw(); // the warning shows before the (possibly long) sealing starts
    void (async () => {
      try {
        const sealed = await sealAttachment(store, id, file, now());
        download(sealed.container, sealed.containerName);
        outgoing = await sealManifest(store, id, sealed.manifest, platform, now);
      } catch (e) {
        lastError = e;
      }
      draw();
    })();
  });
  const megabytes = (n: number): string =>
    new Intl.NumberFormat(language(), { maximumFractionDigits: 1, minimumFractionDigits: 1 }).format(n);
  const warnings = sizeWarnings.map((w) => h("p", { class: "notice", "data-file-warning": w.app },
    t("file.too_large", { size: megabytes(w.megabytes), app: w.app, limit: w.label })));
  const out = outgoing.length === 0 ? null : h("div", { class: "card", "data-outgoing": String(outgoing.length) },
    h("p", {}, tn("thread.send", outgoing.length)),
    ...outgoing.map((tok, i) => handOff(tok, `out-${i}`)));
  function draw(): void {
    (activeRedraw ?? redraw)();
  }
  // Tokens that arrived by link or share while this thread is open. Taken after this
  // render, not during it: take() makes the frame render again, and a render nested in
  // the frame's own render (a `#token` link arriving while the thread is on screen) would
  // leave the frame showing the outer view while activeRedraw points at the inner one.
  if (ctx.inbox.size > 0) {
    queueMicrotask(() => {
      const waiting = ctx.inbox.take();
      if (waiting.length > 0) void receiveText(waiting.join("\n"));
    });
  }
  const back = button("thread.back", () => {
    selected = null;
    outgoing = [];
    sizeWarnings = [];
    redraw();
  }, { "data-action": "back" });
  const waiting = assembler(id).pending;
  return h("div", { class: "stack", "data-thread-open": id, "data-handled": String(handled) },
    h("div", { class: "actions" }, back),
    h("h3", {}, peerText(view.name, "span"), " ",
      h("span", { class: view.verified ? "badge verified" : "badge", "data-verified": String(view.verified) },
        t(view.verified ? "verify.verified" : "verify.unverified"))),
    stored.lines.length || stored.shredded.length ? lines : h("p", { class: "muted" }, t("thread.empty")),
    field("thread.paste", paste), h("div", { class: "actions" }, openBtn),
    waiting ? h("p", { class: "muted", "data-parts-waiting": String(waiting) }, t("thread.parts")) : null, error,
    field("thread.compose", compose),
    h("div", { class: "field" }, h("label", { for: destId }, t("thread.platform")), dest),
    h("div", { class: "actions" }, send), filePicker("file.attach", attach, "file.attach.help"), ...warnings, out);
}

export const threads = defineScreen({
  id: "threads",
  title: "thread.title",
  nav: "nav.threads",
  render(ctx) {
    const holder = h("div", {});
    const redraw = (): void => {
      if (vault() === null) {
        holder.dataset["threadStep"] = "locked";
        replaceChildren(holder, h("p", {}, t("locked.needed")),
          button("nav.unlock", () => ctx.show("unlock"), { class: "primary" }));
        return;
      }
      holder.dataset["threadStep"] = selected ? "thread" : "list";
      replaceChildren(holder, selected ? thread(ctx, selected, redraw) : list(redraw));
    };
    activeRedraw = redraw;
    redraw();
    return section("threads", "thread.title", holder);
  },
});
