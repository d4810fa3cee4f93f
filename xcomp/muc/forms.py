# -*- test-case-name: xcomp.test.test_muc_register -*-
"""
Reading the data forms (XEP-0004) that users submit to a room: a form that
cannot be read (a field twice, no type) is a C{bad-request}, never an
exception in the handler; fields the room does not know are ignored, as
Prosody's C{util.dataforms} ignores them.
"""

from __future__ import annotations

from twisted.words.protocols.jabber.error import StanzaError
from twisted.words.xish import domish

from xcomp.plugin import data_form


def parseForm(x: domish.Element, formType: str | None = "submit") -> data_form.Form:
    """
    The form in C{x}.

    @param formType: the type it must have (C{None}: any).
    @raise StanzaError: C{bad-request} (modify), it is not a readable form
        of that type.
    """
    try:
        form = data_form.Form.fromElement(x)
    except (data_form.Error, KeyError, ValueError):
        raise StanzaError("bad-request", "modify", "The form cannot be read") from None
    if form.formNamespace is None and "FORM_TYPE" in form.fields:
        # A submitted form may leave out the field's type (XEP-0068 section
        # 3.1 asks for hidden, clients such as slixmpp omit it); Prosody
        # reads FORM_TYPE whatever its type.
        field = form.fields.pop("FORM_TYPE")
        form.formNamespace = str(field.values[0]) if field.values else None
    if formType is not None and form.formType != formType:
        raise StanzaError("bad-request", "modify", f"Expected a form of type {formType}")
    return form


def single(form: data_form.Form, var: str) -> str | None:
    """
    The first value of a field, as text, or C{None} if it has none.
    """
    field = form.fields.get(var)
    if field is None or not field.values:
        return None
    return str(field.values[0])


def boolean(form: data_form.Form, var: str) -> bool | None:
    """
    A boolean field's value, C{None} if it is not there.

    @raise StanzaError: C{bad-request}, it is not a boolean.
    """
    value = single(form, var)
    if value is None:
        return None
    if value in ("1", "true"):
        return True
    if value in ("0", "false"):
        return False
    raise StanzaError("bad-request", "modify", f"{var}: not a boolean")
