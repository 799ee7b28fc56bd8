"""argparse's own error sentences in the user's language.

argparse formats its usage errors from fixed English templates (``'the following
arguments are required: %s'``) through the standard library's global gettext domain,
which follows the process locale and not ``MEDCRYPT_LANG``, and for which no catalog
ships. So the parser's :meth:`error` hands the finished English sentence here: each
template is matched back (its values captured) and written again from our catalog's
msgid, with the values as they were. A sentence that matches no template stays English.
``tests/companion/test_i18n_usage_errors.py`` checks that argparse still has each
template word for word.
"""

from __future__ import annotations

import re

from medcrypt.companion.i18n import N_, _

#: (argparse's template, our msgid). Placeholders: ``%s``/``%r`` become ``{arg}``,
#: ``%(name)s``/``%(name)r`` become ``{name}``.
TEMPLATES: tuple[tuple[str, str], ...] = (
    ("the following arguments are required: %s",
     N_("the following arguments are required: {arg}")),
    ("unrecognized arguments: %s", N_("unrecognized arguments: {arg}")),
    ("invalid choice: %(value)r (choose from %(choices)s)",
     N_("invalid choice: {value} (choose from {choices})")),
    ("expected one argument", N_("expected one argument")),
    ("expected at most one argument", N_("expected at most one argument")),
    ("expected at least one argument", N_("expected at least one argument")),
    ("expected %s argument", N_("expected {arg} argument")),
    ("expected %s arguments", N_("expected {arg} arguments")),
    ("ambiguous option: %(option)s could match %(matches)s",
     N_("ambiguous option: {option} could match {matches}")),
    ("invalid %(type)s value: %(value)r", N_("invalid {type} value: {value}")),
    ("not allowed with argument %s", N_("not allowed with argument {arg}")),
    ("one of the arguments %s is required", N_("one of the arguments {arg} is required")),
    ("ignored explicit argument %r", N_("ignored explicit argument {arg}")),
    ("can't open '%(filename)s': %(error)s", N_("can't open '{filename}': {error}")),
    ("unexpected option string: %s", N_("unexpected option string: {arg}")),
)
#: argparse's prefix for an error about one argument (what follows is another template),
#: and our msgid for it.
ARGUMENT: tuple[str, str] = ("argument %(argument_name)s: %(message)s",
                             N_("argument {argument_name}: {message}"))

_PLACEHOLDER = re.compile(r"%\((\w+)\)[sr]|%[sr]")


def _regex(template: str) -> re.Pattern[str]:
    parts: list[str] = []
    at = 0
    for found in _PLACEHOLDER.finditer(template):
        parts.append(re.escape(template[at:found.start()]))
        parts.append(f"(?P<{found.group(1) or 'arg'}>.+?)")
        at = found.end()
    parts.append(re.escape(template[at:]))
    return re.compile("".join(parts))


_MATCHERS = tuple((_regex(template), msgid) for template, msgid in TEMPLATES)
_ARGUMENT_RE = _regex(ARGUMENT[0])


def translated(message: str) -> str:
    """argparse's finished English ``message`` in the user's language (or as it is)."""
    outer = _ARGUMENT_RE.fullmatch(message)
    if outer is not None:
        return _(ARGUMENT[1], argument_name=outer["argument_name"],
                 message=translated(outer["message"]))
    for regex, msgid in _MATCHERS:
        found = regex.fullmatch(message)
        if found is not None:
            return _(msgid, **found.groupdict())
    return message
