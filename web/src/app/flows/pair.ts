/**
 * Pairing, both roles, and the verification screen that ends it.
 *
 * Patient: name the conversation, then scan the physician's QR with the camera (scan.ts)
 * or paste its text; the accept token is shown (after it is committed) with one Share or
 * Copy button, next to the verification code; pasting the physician's KEY_CONFIRM
 * finishes. Physician: name the patient, make an offer (drawn as a QR, qr.ts, with its text), paste the
 * patient's relayed accept, compare the code, confirm (KEY_CONFIRM handed off) or cancel.
 * Both end on the verification screen: the code, and "verified" (the physician's confirm
 * is the verification; the patient marks it after comparing).
 *
 * The step the screen is on is kept in this module so that a re-render (language switch,
 * a token arriving) does not lose it; every secret stays in the keystore document.
 */
import { h, peerText, replaceChildren } from "../dom.js";
import { t } from "../i18n.js";
import { defineScreen, type ScreenContext } from "../screens.js";
import {
  markPairingVerified, pairingViews, patientAccept, resumable, patientConfirm, physicianCancel, physicianConfirm,
  physicianOffer, physicianReceive, type Role,
} from "./pairing-store.js";
import { qrCanvas } from "./qr.js";
import { scanOffer, type Scanner } from "./scan.js";
import { button, errorLine, field, handOff, say, section, statusLine } from "./ui.js";
import { vault } from "./vault.js";

type Step =
  | { kind: "choose" }
  | { kind: "patient-offer" }
  | { kind: "patient-wait"; id: string; acceptToken: string; code: string }
  | { kind: "physician-name" }
  | { kind: "physician-wait"; id: string; text: string; register: string }
  | { kind: "physician-code"; id: string; code: string }
  | { kind: "verify"; id: string; confirmToken: string | null };

let step: Step = { kind: "choose" };
let draftName = "";
let scanner: Scanner | null = null;
const now = (): Date => new Date();

function stopCamera(): void {
  scanner?.stop();
  scanner = null;
}

function go(next: Step, redraw: () => void): void {
  stopCamera();
  if (next.kind === "verify" || next.kind === "choose") draftName = ""; // the next pairing starts blank
  step = next;
  redraw();
}

function nameField(): HTMLElement {
  const input = h("input", { type: "text", name: "name", autocomplete: "off", maxlength: "80" });
  input.value = draftName;
  input.addEventListener("input", () => {
    draftName = input.value;
  });
  return field("pair.name", input, "pair.name.help");
}

function codeBlock(code: string): HTMLElement {
  return h("div", { class: "card", "data-step": "code" },
    h("h3", {}, t("pair.code.title")),
    h("p", { class: "code", "data-code": code }, code),
    h("p", { class: "muted" }, t("pair.code.body")));
}

function choose(redraw: () => void): HTMLElement {
  const role = (r: Role): HTMLButtonElement => button(r === "patient" ? "pair.role.patient" : "pair.role.physician",
    () => go(r === "patient" ? { kind: "patient-offer" } : { kind: "physician-name" }, redraw),
    { "data-role": r });
  const store = vault();
  const views = store ? pairingViews(store.document) : [];
  const list = views.length === 0 ? null : h("ul", { class: "pairings" }, ...views.map((v) => {
    const open = h("button", { type: "button", "data-pairing": v.id }, v.name);
    open.addEventListener("click", () => go({ kind: "verify", id: v.id, confirmToken: null }, redraw));
    return h("li", {}, open, " ", h("span", { class: v.verified ? "badge verified" : "badge",
      "data-verified": String(v.verified) }, t(v.verified ? "verify.verified" : "verify.unverified")));
  }));
  const inProgress = store ? resumable(store.document) : [];
  const resume = inProgress.length === 0 ? null : h("div", { class: "card", "data-in-progress": String(inProgress.length) },
    h("h3", {}, t("pair.resume.title")),
    h("ul", { class: "pairings" }, ...inProgress.map((r) => {
      const b = h("button", { type: "button", "data-resume": r.id }, t("pair.resume", { name: r.name }));
      b.addEventListener("click", () => go(r.step, redraw));
      return h("li", {}, b);
    })));
  return h("div", { class: "stack" }, list, resume,
    h("fieldset", {}, h("legend", {}, t("pair.role.legend")),
      h("div", { class: "actions stack" }, role("patient"), role("physician"))));
}

function patientOffer(redraw: () => void): HTMLElement {
  const error = errorLine();
  const status = statusLine();
  const text = h("textarea", { rows: "3", name: "offer", spellcheck: "false", autocomplete: "off" });
  const use = async (offer: string): Promise<void> => {
    const store = vault();
    if (store === null) return redraw();
    error.clear();
    try {
      const r = await patientAccept(store, offer, draftName.trim() || t("pair.title"), now);
      go({ kind: "patient-wait", ...r }, redraw);
    } catch (e) {
      error.show(e);
    }
  };
  const video = h("video", { class: "camera", "aria-label": t("pair.scan.video") });
  video.hidden = true;
  const scan = button("pair.scan", async () => {
    if (scanner !== null) {
      stopCamera();
      video.hidden = true;
      scan.textContent = t("pair.scan");
      return;
    }
    error.clear();
    try {
      video.hidden = false;
      scanner = await scanOffer(video, (found) => {
        scanner = null;
        video.hidden = true;
        void use(found);
      });
      scan.textContent = t("pair.scan.stop");
      say(status, "pair.scan.looking");
    } catch {
      video.hidden = true;
      say(status, "pair.scan.nocamera");
    }
  }, { class: "primary", "data-action": "scan" });
  const read = button("pair.offer.read", () => use(text.value), { "data-action": "use-offer" });
  return h("div", { class: "stack" }, nameField(),
    h("div", { class: "actions" }, scan), video, status,
    field("pair.offer.paste", text), h("div", { class: "actions" }, read), error);
}

function patientWait(s: Extract<Step, { kind: "patient-wait" }>, redraw: () => void): HTMLElement {
  const error = errorLine();
  const text = h("textarea", { rows: "3", name: "confirm", spellcheck: "false", autocomplete: "off" });
  const finish = button("pair.confirm.read", async () => {
    const store = vault();
    if (store === null) return redraw();
    error.clear();
    try {
      await patientConfirm(store, s.id, text.value, now);
      go({ kind: "verify", id: s.id, confirmToken: null }, redraw);
    } catch (e) {
      error.show(e);
    }
  }, { class: "primary", "data-action": "finish" });
  return h("div", { class: "stack" },
    h("div", { class: "card" }, h("h3", {}, t("pair.accept.title")), h("p", {}, t("pair.accept.body")),
      handOff(s.acceptToken, "accept")),
    codeBlock(s.code),
    field("pair.confirm.paste", text), h("div", { class: "actions" }, finish), error);
}

function physicianName(redraw: () => void): HTMLElement {
  const error = errorLine();
  const make = button("pair.offer.make", async () => {
    const store = vault();
    if (store === null) return redraw();
    error.clear();
    try {
      const r = await physicianOffer(store, draftName.trim() || t("pair.title"), now);
      go({ kind: "physician-wait", ...r }, redraw);
    } catch (e) {
      error.show(e);
    }
  }, { class: "primary", "data-action": "make-offer" });
  return h("div", { class: "stack" }, nameField(), h("div", { class: "actions" }, make), error);
}

function offerCard(text: string, register: string): HTMLElement {
  return h("div", { class: "stack" },
    h("div", { class: "card", "data-step": "register" },
      h("h3", {}, t("pair.register.title")), h("p", {}, t("pair.register.body")), handOff(register, "register")),
    h("div", { class: "card", "data-step": "offer" },
      h("h3", {}, t("pair.offer.title")), h("p", {}, t("pair.offer.body")), qrCanvas(text), handOff(text, "offer")));
}

function physicianWait(s: Extract<Step, { kind: "physician-wait" }>, redraw: () => void): HTMLElement {
  const error = errorLine();
  const text = h("textarea", { rows: "3", name: "accept", spellcheck: "false", autocomplete: "off" });
  const check = button("pair.answer.read", async () => {
    const store = vault();
    if (store === null) return redraw();
    error.clear();
    try {
      const code = await physicianReceive(store, s.id, text.value, now);
      go({ kind: "physician-code", id: s.id, code }, redraw);
    } catch (e) {
      error.show(e);
    }
  }, { class: "primary", "data-action": "check-accept" });
  return h("div", { class: "stack" }, offerCard(s.text, s.register),
    field("pair.answer.paste", text), h("div", { class: "actions" }, check), error);
}

function physicianCode(s: Extract<Step, { kind: "physician-code" }>, redraw: () => void): HTMLElement {
  const error = errorLine();
  const status = statusLine();
  const act = (yes: boolean) => async (): Promise<void> => {
    const store = vault();
    if (store === null) return redraw();
    error.clear();
    try {
      if (yes) {
        const token = await physicianConfirm(store, s.id, now);
        go({ kind: "verify", id: s.id, confirmToken: token }, redraw);
      } else {
        await physicianCancel(store, s.id);
        go({ kind: "choose" }, redraw);
      }
    } catch (e) {
      error.show(e);
    }
  };
  return h("div", { class: "stack" }, codeBlock(s.code),
    h("div", { class: "actions" },
      button("pair.physician.confirm", act(true), { class: "primary", "data-action": "confirm" }),
      button("pair.physician.cancel", act(false), { "data-action": "cancel" })),
    status, error);
}

function verifyView(s: Extract<Step, { kind: "verify" }>, redraw: () => void): HTMLElement {
  const store = vault();
  const view = store ? pairingViews(store.document).find((p) => p.id === s.id) : undefined;
  if (store === null || view === undefined) return h("p", {}, t("locked.needed"));
  const error = errorLine();
  const badge = h("p", { class: view.verified ? "badge verified" : "badge", "data-verified": String(view.verified) },
    t(view.verified ? "verify.verified" : "verify.unverified"));
  const mark = view.verified ? null : button("verify.mark", async () => {
    try {
      await markPairingVerified(store, s.id, now);
      redraw();
    } catch (e) {
      error.show(e);
    }
  }, { class: "primary", "data-action": "mark-verified" });
  return h("div", { class: "stack", "data-step": "verify" },
    h("p", { role: "status", "data-message": "pair.done" }, t("pair.done", { name: view.name })),
    h("h3", {}, t("verify.title"), " · ", peerText(view.name, "span")),
    view.code ? codeBlock(view.code) : null,
    badge, mark ? h("div", { class: "actions" }, mark) : null,
    s.confirmToken ? h("div", { class: "card" }, h("p", {}, t("pair.physician.send")),
      handOff(s.confirmToken, "confirm")) : null,
    error);
}

function body(redraw: () => void): HTMLElement {
  switch (step.kind) {
    case "choose": return choose(redraw);
    case "patient-offer": return patientOffer(redraw);
    case "patient-wait": return patientWait(step, redraw);
    case "physician-name": return physicianName(redraw);
    case "physician-wait": return physicianWait(step, redraw);
    case "physician-code": return physicianCode(step, redraw);
    case "verify": return verifyView(step, redraw);
  }
}

export const pair = defineScreen({
  id: "pair",
  title: "pair.title",
  nav: "nav.pair",
  render(ctx: ScreenContext) {
    const holder = h("div", { "data-pair-step": step.kind });
    const redraw = (): void => {
      if (vault() === null) {
        stopCamera();
        holder.dataset["pairStep"] = "locked";
        replaceChildren(holder, h("p", {}, t("locked.needed")),
          button("nav.unlock", () => ctx.show("unlock"), { class: "primary" }));
        return;
      }
      holder.dataset["pairStep"] = step.kind;
      replaceChildren(holder, body(redraw));
    };
    redraw();
    return section("pair", "pair.title", holder);
  },
});
