/**
 * Texts that carry a count read right in both languages (issue 16): "Envíe estas 1
 * pieza(s)" was the old text. The forms come from Intl.PluralRules, every catalog has a
 * form for every category its language can select, and no catalog writes "(s)" any more.
 */

import assert from "node:assert/strict";
import { test } from "node:test";

import { LANGS, pluralForms, setLanguage, t, tn, type PluralKey } from "../../src/app/i18n.js";
import { en, pluralsEn } from "../../src/app/strings/en.js";
import { esMX, pluralsEsMX } from "../../src/app/strings/es-mx.js";

const KEYS = Object.keys(pluralsEn) as PluralKey[];

test("English: one piece, two pieces", () => {
  setLanguage("en");
  assert.equal(tn("thread.send", 1), "Send this 1 piece to the chat.");
  assert.equal(tn("thread.send", 2), "Send these 2 pieces to the chat, in any order.");
  assert.equal(tn("home.inbox.some", 1), "1 received token is waiting to be opened.");
  assert.equal(tn("home.inbox.some", 3), "3 received tokens are waiting to be opened.");
});

test("es-MX: una pieza, dos piezas, a million with 'de', digits grouped for the locale", () => {
  setLanguage("es-MX");
  assert.equal(tn("thread.send", 1), "Envíe esta 1 pieza al chat.");
  assert.equal(tn("thread.send", 2), "Envíe estas 2 piezas al chat, en cualquier orden.");
  assert.equal(tn("home.inbox.some", 1), "1 ficha recibida espera ser abierta.");
  assert.equal(tn("home.inbox.some", 1250), "1,250 fichas recibidas esperan ser abiertas.");
  assert.equal(tn("home.inbox.some", 1_000_000), "1,000,000 de fichas recibidas esperan ser abiertas.");
  setLanguage("en");
});

test("every plural text has a form for every category its language selects", () => {
  for (const lang of LANGS) {
    const categories = new Intl.PluralRules(lang).resolvedOptions().pluralCategories;
    assert.ok(categories.includes("one") && categories.includes("other"), lang);
    for (const key of KEYS) {
      const forms = pluralForms(lang, key);
      for (const category of categories) {
        const form = forms[category];
        assert.ok(form !== undefined && form.length > 0, `${lang} ${key} lacks "${category}"`);
        assert.ok(form.includes("{count}"), `${lang} ${key} "${category}" does not show the count`);
      }
    }
  }
});

test("both catalogs have the same plural keys, and the Spanish forms are Spanish", () => {
  assert.deepEqual(Object.keys(pluralsEsMX).sort(), [...KEYS].sort());
  for (const key of KEYS) {
    assert.notEqual(pluralsEsMX[key].one, pluralsEn[key].one, key);
    assert.notEqual(pluralsEsMX[key].other, pluralsEn[key].other, key);
  }
});

test("no text writes a plural by hand: '(s)', '(es)', 'a(s)'", () => {
  const texts = [
    ...Object.values(en), ...Object.values(esMX),
    ...Object.values(pluralsEn).flatMap((f) => Object.values(f)),
    ...Object.values(pluralsEsMX).flatMap((f) => Object.values(f)),
  ];
  assert.deepEqual(texts.filter((s) => /\p{L}\((s|es|a|as|o|os)\)/u.test(s)), []);
});

test("a count is a plural text, never a parameter of t()", () => {
  // t() has no {count} text left: a count there would be the old "pieza(s)" again.
  assert.deepEqual(Object.entries(en).filter(([, s]) => s.includes("{count}")).map(([k]) => k), []);
  setLanguage("en");
  assert.equal(t("thread.title"), "Messages"); // t() itself unchanged
});
