/**
 * The physician's offer drawn as a QR code, for the patient's camera.
 *
 * The encoder is the `qr` package (ADR 0034 amendment: zero dependencies, ~6 KiB
 * gzipped, maintained by the author of @noble/hashes); this module only paints its module
 * matrix on a canvas with `fillRect`. No HTML string, no data: URL, no inline style: the
 * CSP (`img-src 'self'`, `require-trusted-types-for 'script'`, no `style-src`) allows a
 * canvas drawn by the bundle's own script and nothing is fetched.
 *
 * The symbol matches the CLI's (companion/qr.py): error correction M, a 4-module quiet
 * zone, black on white whatever the colour scheme (a scanner needs the contrast).
 */
import encodeQR from "qr";
import { h } from "../dom.js";
import { t } from "../i18n.js";

const QUIET_ZONE = 4; // modules, as ISO/IEC 18004 asks and as the CLI's PNG has
const PIXELS_PER_MODULE = 8; // the CLI's PNG scale; CSS scales the canvas down to fit

/** The QR modules of `text` (true = dark), quiet zone included. */
export function qrModules(text: string): boolean[][] {
  return encodeQR(text, "raw", { ecc: "medium", border: QUIET_ZONE });
}

/** A canvas showing `text` as a QR code, labelled for screen readers. */
export function qrCanvas(text: string): HTMLCanvasElement {
  const modules = qrModules(text);
  const side = modules.length * PIXELS_PER_MODULE;
  const canvas = h("canvas", {
    class: "qr", width: String(side), height: String(side), role: "img", "aria-label": t("pair.offer.qr"),
    "data-qr-modules": String(modules.length),
  });
  const g = canvas.getContext("2d");
  if (g === null) return canvas; // no 2D context (never in a supported browser): the text stays below
  g.fillStyle = "#fff";
  g.fillRect(0, 0, side, side);
  g.fillStyle = "#000";
  modules.forEach((row, y) => row.forEach((dark, x) => {
    if (dark) g.fillRect(x * PIXELS_PER_MODULE, y * PIXELS_PER_MODULE, PIXELS_PER_MODULE, PIXELS_PER_MODULE);
  }));
  return canvas;
}
