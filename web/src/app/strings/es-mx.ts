/**
 * Spanish (Mexico) strings. Typed against the English catalog: a missing or extra key
 * fails `npm run typecheck`. Clinics in Mexico asked for this work (LFPDPPP).
 */
import { flowsEsMX, flowsPluralsEsMX } from "../flows/strings.js";
import type { MessageKey, PluralKey } from "./en.js";

export const esMX: Record<MessageKey, string> = {
  ...flowsEsMX,
  "app.name": "MedCrypt",
  "app.tagline": "Mensajes cifrados con su médico. Sus llaves se quedan en este dispositivo.",
  "nav.label": "Principal",
  "nav.home": "Inicio",
  "nav.settings": "Idioma",
  "nav.about": "Acerca de",
  "home.title": "Bienvenido",
  "home.body": "MedCrypt convierte sus mensajes en fichas cerradas que solo usted y su médico pueden abrir. La aplicación de chat solo ve las fichas.",
  "home.next": "Para empezar, configure este dispositivo y vincúlelo con su médico.",
  "home.inbox.none": "No hay mensajes en espera.",
  "settings.title": "Idioma",
  "settings.language.legend": "Idioma de la aplicación",
  "settings.language.saved": "Idioma guardado.",
  "about.title": "Acerca de esta aplicación",
  "about.hash.label": "Huella del paquete (SHA-256)",
  "about.hash.help": "Compárela con la huella que publica su clínica. Cualquiera puede revisar una copia publicada con: medcrypt web-verify URL --expect HUELLA",
  "about.hash.missing": "Esta copia no tiene huella: no la generó la compilación del proyecto.",
  "about.offline": "La aplicación funciona sin red. Nunca envía sus mensajes a ningún lado; usted comparte las fichas.",
  "update.title": "Hay una actualización lista",
  "update.body": "Se descargó una nueva versión de MedCrypt. Todavía no se está usando. Antes de cambiar, compare su huella con la que publica su clínica.",
  "update.new": "Versión nueva",
  "update.current": "Esta versión",
  "update.switch": "Cambiar a la versión nueva",
  "update.later": "Ahora no",
  "update.later.note": "La versión nueva espera. MedCrypt volverá a preguntar antes de que la use.",
  "update.unknown": "(no se pudo leer)",
  "changed.title": "MedCrypt se actualizó",
  "changed.body": "Esta versión no es la que usted aprobó. Revise su huella con su clínica antes de desbloquear nada.",
  "changed.approved": "Usted aprobó",
  "changed.running": "En uso ahora",
  "changed.accept": "Ya la revisé: usar esta versión",
  "inbound.received": "Llegó una ficha. Se abrirá cuando este dispositivo esté vinculado.",
  "error.unknown": "Algo salió mal ({code}).",
  "inbound.none": "Lo compartido no parece una ficha de MedCrypt.",
};

/** Spanish has three plural categories: `one`, `many` (a round million) and `other`. */
export const pluralsEsMX: Record<PluralKey, { one: string; many: string; other: string }> = {
  ...flowsPluralsEsMX,
  "home.inbox.some": {
    one: "{count} ficha recibida espera ser abierta.",
    many: "{count} de fichas recibidas esperan ser abiertas.",
    other: "{count} fichas recibidas esperan ser abiertas.",
  },
};
