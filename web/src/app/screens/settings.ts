/** Language: English or Spanish (Mexico), switchable at any time and remembered. */
import { h } from "../dom.js";
import { LANGS, LANG_NAMES, language, setLanguage, t } from "../i18n.js";
import { defineScreen } from "../screens.js";

export const settings = defineScreen({
  id: "settings",
  title: "settings.title",
  nav: "nav.settings",
  render(ctx) {
    const current = language();
    const choices = LANGS.map((lang) => {
      const input = h("input", { type: "radio", name: "lang", value: lang,
        checked: lang === current, lang });
      input.addEventListener("change", () => {
        if (!input.checked) return;
        setLanguage(lang);
        ctx.notify(t("settings.language.saved"));
      });
      return h("label", { class: "choice", lang }, input, LANG_NAMES[lang]);
    });
    return h("section", { "aria-labelledby": "settings-title" },
      h("h2", { id: "settings-title" }, t("settings.title")),
      h("fieldset", {}, h("legend", {}, t("settings.language.legend")), ...choices),
    );
  },
});
