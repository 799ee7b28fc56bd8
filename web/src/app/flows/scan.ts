/**
 * Reading a pairing QR from the camera: frames of a `getUserMedia` stream drawn on a
 * canvas and handed to jsQR (a maintained decoder, ADR 0028's bundle list), until one
 * holds text that starts with the offer scheme.
 *
 * Why only the scheme is checked here: parsing belongs to web/src/protocol/offer.ts,
 * which raises typed errors; the scanner must just not stop on some other QR in view
 * (a poster, a product code). Nothing leaves the device: frames go from the camera to a
 * canvas in this page and nowhere else, and the stream is stopped as soon as a code is
 * read or the user leaves.
 *
 * jsQR is imported when the camera starts, not with the app: only this screen uses it,
 * and every open would otherwise parse and run it before the first screen (a chunk of
 * the bundle, precached like the rest, web/build.mjs).
 */
import { QR_SCHEME } from "../../protocol/offer.js";

export interface Scanner {
  /** Stop the camera (idempotent). */
  stop(): void;
}

const FRAME_MS = 150;

/**
 * Start the camera into `video` and call `onText` once with the first offer text seen.
 * Rejects if there is no camera or the user refused it.
 */
export async function scanOffer(video: HTMLVideoElement, onText: (text: string) => void): Promise<Scanner> {
  const { default: jsQR } = await import("jsqr");
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { facingMode: "environment" }, audio: false,
  });
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
  };
  video.srcObject = stream;
  video.muted = true;
  video.playsInline = true;
  await video.play();
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  if (ctx === null) {
    stop();
    throw new Error("no 2d canvas");
  }
  const tick = (): void => {
    if (stopped) return;
    const w = video.videoWidth;
    const hgt = video.videoHeight;
    if (w > 0 && hgt > 0) {
      canvas.width = w;
      canvas.height = hgt;
      ctx.drawImage(video, 0, 0, w, hgt);
      const frame = ctx.getImageData(0, 0, w, hgt);
      const found = jsQR(frame.data, w, hgt, { inversionAttempts: "attemptBoth" });
      if (found !== null && found.data.trim().startsWith(QR_SCHEME)) {
        stop();
        onText(found.data);
        return;
      }
    }
    timer = setTimeout(tick, FRAME_MS);
  };
  tick();
  return { stop };
}
