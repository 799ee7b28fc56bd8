/**
 * The web companion's entry point: styles, language, the frame and its screens, the
 * inbound token paths, and the service worker with consent-gated updates.
 *
 * Order matters: the changed-bundle gate (update.ts) blocks use before any screen that
 * could take a passphrase is shown; the fragment is read and erased before anything else
 * can see it, at start and on every later `hashchange`. Asking IndexedDB whether a
 * keystore exists comes first of all: it shows nothing and reads no secret, and the
 * database's first open in a new browser process is then done by the time anyone can
 * reach the unlock screen.
 */
import { access, askKeystoreExists } from "./flows/access.js";
import { pair } from "./flows/pair.js";
import { adoptFlowStyles } from "./flows/styles.js";
import { threads } from "./flows/threads.js";
import { Inbox, readFragment } from "./inbound.js";
import { initLanguage, t } from "./i18n.js";
import { Frame } from "./screens.js";
import { about } from "./screens/about.js";
import { home } from "./screens/home.js";
import { settings } from "./screens/settings.js";
import { adoptStyles } from "./styles.js";
import { gateOnChangedBundle, startUpdates } from "./update.js";

const SCREENS = [home, access, pair, threads, settings, about]; // the navigation's order

async function boot(): Promise<void> {
  void askKeystoreExists(); // IndexedDB opened while the first screen draws (access.ts)
  adoptStyles();
  adoptFlowStyles();
  initLanguage(navigator.languages);
  const inbox = new Inbox();
  const fragment = readFragment(inbox);
  const frame = new Frame(document.body, inbox, SCREENS);
  frame.show(home.id);
  await gateOnChangedBundle();
  const tell = (arrived: Awaited<ReturnType<typeof readFragment>>): void => {
    if (arrived === "token") frame.notify(t("inbound.received"));
    if (arrived === "none") frame.notify(t("inbound.none"));
  };
  tell(await fragment);
  // A `#token` link opened while the app is open (the installed app brought to the front
  // on the link, or a link inside the app's own window) is a same-document navigation:
  // no load, only `hashchange`. It is read at once, the same way, and erased the same way.
  window.addEventListener("hashchange", () => void readFragment(inbox).then(tell));
  await startUpdates();
  document.documentElement.dataset["ready"] = "1";
}

void boot();
