/**
 * Styles of the flow screens, a second constructable stylesheet next to the shell's
 * (styles.ts explains why constructable sheets: the CSP forbids every other kind).
 * Inputs, token boxes and the verification code wrap inside the one-column layout at
 * 390 px and at 200% text; nothing sets a width in pixels.
 */
const CSS = `
.field { display: flex; flex-direction: column; gap: 0.25rem; margin: 0 0 0.75rem; }
.field label { font-weight: 600; }
.field .help { margin: 0; font-size: 0.95rem; }
ol.words { margin: 0.75rem 0; padding-left: 2.25rem; font-size: 1.35rem; font-weight: 600; line-height: 1.6; overflow-wrap: anywhere; }
input[type="password"], input[type="text"], textarea {
  font: inherit; width: 100%; max-width: 100%; min-height: 2.75rem; padding: 0.5rem 0.75rem;
  border: 2px solid var(--line); border-radius: 0.5rem; background: var(--bg); color: var(--fg);
}
textarea { resize: vertical; }
textarea.token { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 0.9rem; overflow-wrap: anywhere; word-break: break-all; }
input:focus-visible, textarea:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.actions { display: flex; flex-wrap: wrap; gap: 0.5rem; margin: 0.5rem 0; }
.actions.stack { flex-direction: column; align-items: stretch; }
.stack { display: flex; flex-direction: column; gap: 0.75rem; }
.stack > h3, .stack > p { margin: 0; }
.error { color: var(--warn-fg); background: var(--warn-bg); border-left: 0.3rem solid var(--warn-fg); padding: 0.5rem 0.75rem; border-radius: 0.25rem; }
.code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 1.6rem; letter-spacing: 0.08em; margin: 0.25rem 0; overflow-wrap: anywhere; }
.badge { display: inline-block; align-self: flex-start; padding: 0.25rem 0.75rem; border-radius: 1rem; border: 2px solid var(--muted); font-weight: 600; margin: 0; }
.badge.verified { border-color: var(--accent); color: var(--accent); }
canvas.qr { display: block; margin: 0.5rem auto; width: min(100%, 20rem); height: auto; image-rendering: pixelated; border: 1px solid var(--line); }
video.camera { width: 100%; max-width: 100%; border-radius: 0.5rem; background: #000; }
select { font: inherit; min-height: 2.75rem; padding: 0.25rem 0.5rem; border: 2px solid var(--line); border-radius: 0.5rem; background: var(--bg); color: var(--fg); max-width: 100%; }
ol.thread, ul.pairings { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 0.5rem; }
.msg { border: 1px solid var(--line); border-radius: 0.75rem; padding: 0.5rem 0.75rem; max-width: 90%; }
.msg p { margin: 0.25rem 0 0; white-space: pre-wrap; }
.msg.in { align-self: flex-start; background: var(--card); }
.msg.out { align-self: flex-end; }
.when { font-size: 0.9rem; }
.shredded { font-style: italic; }
.file-field { position: relative; }
.file-field .file-input { position: absolute; top: 0; left: 0; width: 1px; height: 1px; margin: 0; padding: 0; border: 0; opacity: 0; overflow: hidden; }
.file-field .file-button { align-self: flex-start; font-weight: 600; min-height: 2.75rem; padding: 0.5rem 1rem; border-radius: 0.5rem; border: 2px solid var(--accent); background: var(--bg); color: var(--accent); cursor: pointer; overflow-wrap: anywhere; }
.file-field .file-input:focus-visible + .file-button { outline: 3px solid var(--accent); outline-offset: 2px; }
.file-chosen { overflow-wrap: anywhere; }
.status:empty { display: none; }
`;

let sheet: CSSStyleSheet | null = null;

/** Adopt the flows' stylesheet after the shell's (once). */
export function adoptFlowStyles(doc: Document = document): void {
  if (!sheet) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
  }
  if (!doc.adoptedStyleSheets.includes(sheet)) {
    doc.adoptedStyleSheets = [...doc.adoptedStyleSheets, sheet];
  }
}
