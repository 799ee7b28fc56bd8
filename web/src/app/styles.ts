/**
 * The app's styles as a constructable stylesheet adopted by the document. The CSP has no
 * `style-src` (so `default-src 'none'` forbids every <style>, style attribute and
 * stylesheet link); a CSSStyleSheet built by the bundle's own script is not a fetched or
 * inline style and is allowed. tests/web/shell/ checks in Chromium that no
 * `securitypolicyviolation` fires.
 *
 * Sizes are in rem so the browser's text size setting scales everything; the layout is
 * one column up to 40rem and never wider, so it works from a 390 px phone at 200% text
 * to a desktop window.
 */
const CSS = `
:root {
  color-scheme: light dark;
  --fg: #14181b; --muted: #4a5560; --bg: #ffffff; --card: #f3f6f7; --line: #c9d3d8;
  --accent: #0b5c6b; --accent-fg: #ffffff; --warn-bg: #fff4d6; --warn-fg: #4d3800;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  font-size: 100%; line-height: 1.5;
}
@media (prefers-color-scheme: dark) {
  :root { --fg: #eef2f4; --muted: #b5c1c8; --bg: #101416; --card: #1b2225; --line: #3a464c;
    --accent: #7fd0de; --accent-fg: #081b1f; --warn-bg: #3d3000; --warn-fg: #ffe7a3; }
}
*, *::before, *::after { box-sizing: border-box; }
html, body { margin: 0; padding: 0; background: var(--bg); color: var(--fg); }
body { min-height: 100vh; overflow-wrap: anywhere; }
.shell { max-width: 40rem; margin: 0 auto; padding: 0 1rem 2rem; display: flex; flex-direction: column; gap: 1rem; }
header.top { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: 0.5rem; padding-top: 1rem; }
header.top h1 { margin: 0; font-size: 1.5rem; }
nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: 0.5rem; margin: 0; padding: 0; }
button, .button {
  font: inherit; min-height: 2.75rem; padding: 0.5rem 1rem; border-radius: 0.5rem;
  border: 2px solid var(--accent); background: var(--bg); color: var(--accent); cursor: pointer;
  max-width: 100%; white-space: normal; text-align: center;
}
button.primary { background: var(--accent); color: var(--accent-fg); }
button[aria-current="page"] { background: var(--accent); color: var(--accent-fg); }
button:focus-visible, input:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
main { display: flex; flex-direction: column; gap: 1rem; }
main h2 { margin: 0; font-size: 1.35rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 0.75rem; padding: 1rem; }
.card > :first-child { margin-top: 0; } .card > :last-child { margin-bottom: 0; }
.card h3 { font-size: 1.1rem; }
.muted { color: var(--muted); }
.hash { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 1rem; word-spacing: 0.2em; overflow-wrap: anywhere; }
fieldset { border: 1px solid var(--line); border-radius: 0.75rem; padding: 0.75rem 1rem; margin: 0; }
legend { padding: 0 0.25rem; font-weight: 600; }
label.choice { display: flex; align-items: center; gap: 0.75rem; min-height: 2.75rem; }
input[type="radio"] { width: 1.25rem; height: 1.25rem; accent-color: var(--accent); }
dialog { max-width: min(36rem, calc(100vw - 2rem)); width: 100%; border: 2px solid var(--accent); border-radius: 0.75rem; padding: 1.25rem; background: var(--bg); color: var(--fg); }
dialog::backdrop { background: rgba(0, 0, 0, 0.6); }
dialog h2 { margin-top: 0; font-size: 1.35rem; }
dialog .actions { display: flex; flex-wrap: wrap; gap: 0.5rem; margin-top: 1rem; }
.notice:empty { display: none; }
.notice { margin: 0; padding: 0.5rem 0.75rem; border-left: 4px solid var(--accent); background: var(--card); }
.banner { background: var(--warn-bg); color: var(--warn-fg); border-radius: 0.5rem; padding: 0.75rem 1rem; }
dl { margin: 0; } dt { font-weight: 600; } dd { margin: 0 0 0.75rem 0; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
`;

let sheet: CSSStyleSheet | null = null;

/** Adopt the app's stylesheet on `doc` (once). */
export function adoptStyles(doc: Document = document): void {
  if (!sheet) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
  }
  if (!doc.adoptedStyleSheets.includes(sheet)) {
    doc.adoptedStyleSheets = [...doc.adoptedStyleSheets, sheet];
  }
}
