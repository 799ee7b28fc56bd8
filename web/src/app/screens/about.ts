/**
 * About: the running bundle's fingerprint, so a user can compare it with what the clinic
 * publishes (and anyone can check the published copy with `medcrypt web-verify`).
 */
import { groupHash, runningBundleHash } from "../bundle.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { defineScreen } from "../screens.js";

export const about = defineScreen({
  id: "about",
  title: "about.title",
  nav: "nav.about",
  render() {
    const hash = runningBundleHash();
    return h("section", { "aria-labelledby": "about-title" },
      h("h2", { id: "about-title" }, t("about.title")),
      h("div", { class: "card" },
        h("h3", {}, t("about.hash.label")),
        hash
          ? h("p", { class: "hash", "data-bundle-hash": hash }, groupHash(hash))
          : h("p", { class: "banner" }, t("about.hash.missing")),
        h("p", { class: "muted" }, t("about.hash.help"))),
      h("p", {}, t("about.offline")),
    );
  },
});
