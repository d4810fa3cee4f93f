"""
Tests for L{xcomp.muc.settings}: the C{muc} component's options, read with
Prosody's names, and the room configuration form.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from xcomp.muc.settings import RoomConfig, ServiceOptions, configForm, submitForm

DOMAIN = "conference.example.org"


class ServiceOptionsTests(SynchronousTestCase):
    """
    L{ServiceOptions.fromOptions}.
    """

    def test_defaults(self) -> None:
        """
        With no options, rooms are hidden (Prosody 0.12's
        C{muc_room_default_public} is false), temporary, open, unmoderated
        and semi-anonymous, with 20 messages of history, as in Prosody.
        """
        options = ServiceOptions.fromOptions(DOMAIN, {})
        self.assertEqual(options.defaults, RoomConfig(public=False, historyLength=20, maxUsers=1000))
        self.assertEqual((options.name, options.restrictCreation, options.locking), ("Chatrooms", None, True))
        self.assertEqual(options.localDomain, "example.org")

    def test_prosodyNames(self) -> None:
        """
        Prosody's C{muc_room_default_*} options set new rooms' configuration;
        C{max_history_messages} caps the history length.
        """
        options = ServiceOptions.fromOptions(DOMAIN, {
            "name": "Rooms",
            "muc_room_default_public": False,
            "muc_room_default_persistent": True,
            "muc_room_default_members_only": "true",
            "muc_room_default_moderated": 1,
            "muc_room_default_public_jids": True,
            "muc_room_default_change_subject": True,
            "muc_room_default_history_length": 50,
            "max_history_messages": 30,
            "muc_max_occupants": 40,
        })
        defaults = options.defaults
        self.assertEqual(
            (defaults.public, defaults.persistent, defaults.membersOnly, defaults.moderated, defaults.whois),
            (False, True, True, True, "anyone"),
        )
        self.assertEqual((defaults.changeSubject, defaults.historyLength, defaults.maxUsers), (True, 30, 40))
        self.assertEqual(options.name, "Rooms")

    def test_restrictRoomCreation(self) -> None:
        """
        C{restrict_room_creation}: C{true} means admins only, as in Prosody.
        """
        read = lambda value: ServiceOptions.fromOptions(DOMAIN, {"restrict_room_creation": value}).restrictCreation  # noqa: E731
        self.assertEqual([read(True), read("admin"), read("local"), read(False)], ["admin", "admin", "local", None])

    def test_admins(self) -> None:
        """
        C{admins} are bare JIDs (a full JID counts as its bare JID).
        """
        options = ServiceOptions.fromOptions(DOMAIN, {"admins": ("Boss@Example.org/x", "ops@example.org")})
        self.assertEqual(options.admins, frozenset({"boss@example.org", "ops@example.org"}))

    def test_badValues(self) -> None:
        """
        An unusable value is a L{ValueError} naming the option.
        """
        for options in (
            {"muc_room_default_public": "yes"},
            {"muc_max_rooms": 0},
            {"restrict_room_creation": "friends"},
            {"admins": ("not a jid@@",)},
            {"name": True},
        ):
            error = self.assertRaises(ValueError, ServiceOptions.fromOptions, DOMAIN, options)
            self.assertTrue(str(error).startswith(next(iter(options)) + ": "), str(error))


class FormTests(SynchronousTestCase):
    """
    L{configForm} and L{submitForm}.
    """

    options = ServiceOptions(maxOccupants=100, maxHistory=10)

    def test_roundTrip(self) -> None:
        """
        The values the form shows, submitted unchanged, give the same
        configuration.
        """
        config = RoomConfig(name="Lounge", password="pw", whois="anyone", allowPM="none", historyLength=5, maxUsers=30)
        form = configForm(config, self.options)
        values = {var: [str(v).lower() if isinstance(v, bool) else str(v) for v in field.values]
                  for var, field in form.fields.items() if var != "FORM_TYPE"}
        self.assertEqual(submitForm(RoomConfig(), values, self.options), config)

    def test_limits(self) -> None:
        """
        History length and occupant numbers above the service's limits are
        lowered to them.
        """
        config = submitForm(
            RoomConfig(), {"muc#roomconfig_historylength": ["99"], "muc#roomconfig_maxusers": ["5000"]}, self.options
        )
        self.assertEqual((config.historyLength, config.maxUsers), (10, 100))

    def test_passwordOff(self) -> None:
        """
        Turning C{passwordprotectedroom} off removes the password.
        """
        config = submitForm(RoomConfig(password="pw"), {"muc#roomconfig_passwordprotectedroom": ["0"]}, self.options)
        self.assertEqual(config.password, "")

    def test_badValues(self) -> None:
        """
        A value of the wrong kind is a L{ValueError} naming the field.
        """
        for var, value in (
            ("muc#roomconfig_publicroom", "maybe"),
            ("muc#roomconfig_whois", "everyone"),
            ("muc#roomconfig_maxusers", "-1"),
            ("muc#roomconfig_roomname", "x" * 2000),
        ):
            error = self.assertRaises(ValueError, submitForm, RoomConfig(), {var: [value]}, self.options)
            self.assertTrue(str(error).startswith(var), str(error))
