/**
 * Small building blocks the flow screens share: a labelled field, a file chooser in the
 * app's language, a live status line,
 * an error line that carries the stable code (tests and screen readers read the same
 * element), and a share-or-copy button for tokens.
 *
 * Why share *or* copy: the Web Share API hands text to the chat app in one tap where the
 * browser has it (Android, iOS, some desktops); elsewhere the clipboard is the one tap.
 * Neither sends anything anywhere by itself: the user picks the destination.
 */
import { h, type Child } from "../dom.js";
import { t, type MessageKey } from "../i18n.js";
import { errorCode, errorText } from "./vault.js";

let fieldSeq = 0;

/** A labelled input or textarea; `help` is tied to it with aria-describedby. */
export function field(label: MessageKey, control: HTMLInputElement | HTMLTextAreaElement,
  help?: MessageKey): HTMLElement {
  fieldSeq += 1;
  const id = control.id || `f${fieldSeq}`;
  control.id = id;
  const helpEl = help ? h("p", { class: "muted help", id: `${id}-help` }, t(help)) : null;
  if (helpEl) control.setAttribute("aria-describedby", helpEl.id);
  return h("div", { class: "field" }, h("label", { for: id }, t(label)), control, helpEl);
}

/**
 * A file chooser that speaks the app's language. The browser draws its own button and
 * line ("Choose File", "No file chosen") in the browser's language, whatever the user
 * chose here, and no attribute changes them. So the input stays, as the control that
 * opens the system picker, takes keyboard focus and carries the accessible name and
 * description, but is drawn transparent at 1 px; its label is the visible button (a
 * click on a label opens its file input), focus shows on that label, and a line beside
 * it names the chosen file or says that none is chosen.
 */
export function filePicker(label: MessageKey, input: HTMLInputElement, help?: MessageKey): HTMLElement {
  fieldSeq += 1;
  const id = input.id || `f${fieldSeq}`;
  input.id = id;
  input.classList.add("file-input");
  const chosen = h("span", { class: "muted file-chosen", id: `${id}-chosen` }, t("file.none"));
  const helpEl = help ? h("p", { class: "muted help", id: `${id}-help` }, t(help)) : null;
  input.setAttribute("aria-describedby", helpEl ? `${chosen.id} ${helpEl.id}` : chosen.id);
  input.addEventListener("change", () => {
    chosen.textContent = input.files?.[0]?.name ?? t("file.none");
  });
  return h("div", { class: "field file-field" },
    input, h("label", { for: id, class: "file-button" }, t(label)), chosen, helpEl);
}

/** A polite live region for progress and results. */
export function statusLine(): HTMLParagraphElement {
  return h("p", { role: "status", class: "status", "aria-live": "polite" });
}

/** An assertive line for errors; `data-error` holds the code, the text is translated. */
export function errorLine(): HTMLParagraphElement & { show(e: unknown): void; clear(): void } {
  const el = h("p", { role: "alert", class: "error" }) as HTMLParagraphElement
    & { show(e: unknown): void; clear(): void };
  el.hidden = true;
  el.show = (e: unknown) => {
    el.hidden = false;
    el.dataset["error"] = errorCode(e);
    el.textContent = errorText(e);
  };
  el.clear = () => {
    el.hidden = true;
    delete el.dataset["error"];
    el.textContent = "";
  };
  return el;
}

/** A message shown by key (not an error), with `data-message` holding the key. */
export function say(el: HTMLElement, key: MessageKey, params?: Readonly<Record<string, string | number>>): void {
  el.dataset["message"] = key;
  el.textContent = t(key, params);
}

export function button(label: MessageKey, onClick: () => void | Promise<void>,
  attrs: Record<string, string> = {}): HTMLButtonElement {
  const b = h("button", { type: "button", ...attrs }, t(label));
  b.addEventListener("click", () => void onClick());
  return b;
}

/**
 * A token shown for hand-off: the text itself (selectable, read-only) and one button,
 * Share where `navigator.share` exists, Copy otherwise.
 */
export function handOff(token: string, name: string): HTMLElement {
  const text = h("textarea", { readonly: true, rows: "4", class: "token", "data-token": name,
    spellcheck: "false", autocomplete: "off", "aria-label": t("handoff.label") });
  text.value = token;
  const note = statusLine();
  const canShare = typeof navigator.share === "function";
  const act = button(canShare ? "pair.share" : "pair.copy", async () => {
    if (canShare) {
      try {
        await navigator.share({ text: token });
        return;
      } catch {
        // the user closed the share sheet, or the browser refused: copying still works
      }
    }
    try {
      await navigator.clipboard.writeText(token);
      say(note, "pair.copied");
    } catch {
      text.select();
    }
  }, { class: "primary", "data-action": `handoff-${name}` });
  return h("div", { class: "handoff" }, text, h("div", { class: "actions" }, act), note);
}

export function section(id: string, title: MessageKey, ...children: Child[]): HTMLElement {
  return h("section", { "aria-labelledby": `${id}-title`, "data-flow": id },
    h("h2", { id: `${id}-title` }, t(title)), ...children);
}
