/**
 * Building the DOM without HTML strings. Every text goes in through `textContent`
 * (a Text node), so peer text can never become markup; the CSP's
 * `require-trusted-types-for 'script'` makes any `innerHTML` assignment throw anyway, and
 * this module gives screens no reason to try.
 */
export type Child = Node | string | null | undefined | false;

export interface Attrs {
  readonly [name: string]: string | boolean | undefined;
}

/** `h("p", {class: "x"}, "text", child)`: an element whose strings are text nodes. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (name.startsWith("on")) throw new Error("dom.h: bind events with addEventListener");
    el.setAttribute(name, value === true ? "" : value);
  }
  append(el, ...children);
  return el;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
}

/** Replace every child of `parent` (no HTML parsing involved). */
export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

/** Show text that came from outside (a peer, a share) as text, nothing else. */
export function peerText(text: string, tag: "p" | "span" = "p"): HTMLElement {
  const el = document.createElement(tag);
  el.textContent = text;
  return el;
}
