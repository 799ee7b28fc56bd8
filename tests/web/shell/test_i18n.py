"""web/src/app/i18n.ts run in Node: the language from the browser's list (any Spanish is
es-MX), parameters, and typed-error codes translated without a message."""

from __future__ import annotations

from pathlib import Path

from tests.support import web


def test_language_choice_parameters_and_error_codes(web_build: web.Build, tmp_path: Path) -> None:
    out = web.run_in_node(tmp_path, "src/app/i18n.ts", """
const detect = [["es-AR"], ["es"], ["ES-mx"], ["en-GB"], ["fr-FR"], ["fr", "es-419", "en"],
                ["de", "en-US", "es"], []].map((l) => m.detect(l));
m.setLanguage("es-MX");
const es = [m.tn("home.inbox.some", 3), m.errorText("DecryptionFailed"),
            m.tn("home.inbox.some", 1)];
m.setLanguage("en");
const en = [m.tn("home.inbox.some", 2), m.t("export.saved"),
            m.errorText("no-such-code"), m.errorText("constructor")];
process.stdout.write(JSON.stringify({detect, es, en}));
""")
    assert out["detect"] == ["es-MX", "es-MX", "es-MX", "en", "en", "es-MX", "en", "en"]
    assert out["es"][0] == "3 fichas recibidas esperan ser abiertas."
    assert out["es"][2] == "1 ficha recibida espera ser abierta."
    assert "(DecryptionFailed)" in out["es"][1] and out["es"][1].startswith("Algo salió mal")
    assert out["en"][0] == "2 received tokens are waiting to be opened."
    assert out["en"][1] == "Encrypted copy saved as {name}."  # a missing parameter stays visible
    assert out["en"][2] == "Something went wrong (no-such-code)."
    assert out["en"][3] == "Something went wrong (constructor)."  # no prototype lookups
