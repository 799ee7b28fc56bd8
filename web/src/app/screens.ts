/**
 * The frame every screen lives in: a header with the app's name and the navigation, one
 * <main> that shows the current screen, and a re-render when the language changes.
 *
 * A screen is a function from a context to an element and keeps no global state; the
 * frame gets the list of screens, in navigation order, from main.ts. The screens of
 * pairing, threads, setup/unlock and verification (built on web/src/protocol and
 * web/src/keystore) plug in the same way.
 * Moving to a screen moves the keyboard and screen-reader focus to its heading and sets
 * the document title, as a page load would.
 */
import { h, replaceChildren } from "./dom.js";
import { language, onLanguageChange, t, type MessageKey } from "./i18n.js";
import type { Inbox } from "./inbound.js";

export interface ScreenContext {
  /** Go to another screen. */
  show(id: string): void;
  /** Say something short in the status line (a polite live region for screen readers). */
  notify(text: string): void;
  /** Tokens received by link, share or paste, waiting for a screen that opens them. */
  readonly inbox: Inbox;
}

export interface Screen {
  readonly id: string;
  readonly title: MessageKey;
  /** Label in the navigation; screens without one are reached from other screens. */
  readonly nav?: MessageKey;
  render(ctx: ScreenContext): HTMLElement;
}

/** A screen, typed: identity function so each screen module reads as one declaration. */
export function defineScreen(screen: Screen): Screen {
  return screen;
}

export class Frame {
  private current: string;
  private readonly main: HTMLElement;
  private readonly navList: HTMLUListElement;
  private readonly heading: HTMLHeadingElement;
  private readonly status: HTMLParagraphElement;
  private readonly ctx: ScreenContext;
  private readonly registry: ReadonlyMap<string, Screen>;

  /** `screens` in navigation order; the first is shown first. */
  constructor(private readonly root: HTMLElement, inbox: Inbox, screens: readonly Screen[]) {
    const first = screens[0];
    if (!first) throw new Error("a frame needs a screen");
    this.registry = new Map(screens.map((s) => [s.id, s]));
    if (this.registry.size !== screens.length) throw new Error("two screens share an id");
    this.current = first.id;
    this.heading = h("h1", {});
    this.navList = h("ul", {});
    this.main = h("main", { id: "main", tabindex: "-1" });
    this.status = h("p", { id: "status", role: "status", class: "notice" });
    this.ctx = { show: (id) => this.show(id), notify: (text) => this.notify(text), inbox };
    replaceChildren(
      root,
      h("div", { class: "shell" },
        h("header", { class: "top" }, this.heading, h("nav", { "aria-labelledby": "nav-label" },
          h("span", { id: "nav-label", class: "visually-hidden" }), this.navList)),
        this.status,
        this.main),
    );
    onLanguageChange(() => this.render(false));
    inbox.onChange(() => this.render(false));
  }

  show(id: string): void {
    if (!this.registry.has(id)) throw new Error(`no screen ${id}`);
    this.current = id;
    this.render(true);
  }

  /** Show `text` in the status line until the next screen change. */
  notify(text: string): void {
    this.status.textContent = text;
  }

  get screen(): string {
    return this.current;
  }

  private render(moveFocus: boolean): void {
    if (moveFocus) this.status.textContent = "";
    const screen = this.registry.get(this.current);
    if (!screen) throw new Error(`no screen ${this.current}`);
    document.documentElement.lang = language();
    this.heading.textContent = t("app.name");
    const navLabel = this.root.querySelector("#nav-label");
    if (navLabel) navLabel.textContent = t("nav.label");
    replaceChildren(this.navList, ...[...this.registry.values()].filter((s) => s.nav).map((s) => {
      const button = h("button", { type: "button", "data-screen": s.id,
        "aria-current": s.id === this.current ? "page" : undefined }, t(s.nav as MessageKey));
      button.addEventListener("click", () => this.show(s.id));
      return h("li", {}, button);
    }));
    const view = screen.render(this.ctx);
    const title = view.querySelector("h2");
    title?.setAttribute("tabindex", "-1");
    replaceChildren(this.main, view);
    document.title = `${t(screen.title)} · ${t("app.name")}`;
    if (moveFocus) (title ?? this.main).focus();
  }
}
