/** The start screen: what the app is, what to do first, and what is waiting. */
import { h } from "../dom.js";
import { t, tn } from "../i18n.js";
import { defineScreen } from "../screens.js";

export const home = defineScreen({
  id: "home",
  title: "home.title",
  nav: "nav.home",
  render(ctx) {
    const waiting = ctx.inbox.size;
    return h("section", { "aria-labelledby": "home-title" },
      h("h2", { id: "home-title" }, t("home.title")),
      h("p", {}, t("app.tagline")),
      h("div", { class: "card" }, h("p", {}, t("home.body")), h("p", {}, t("home.next"))),
      h("p", { class: waiting ? "banner" : "muted", role: "status", "data-inbox": String(waiting) },
        waiting ? tn("home.inbox.some", waiting) : t("home.inbox.none")),
    );
  },
});
