"""
The C{muc} component's declared options in a Prosody-style file: converted
for the plugin, known to the unknown-option check, and refused at their own
line.
"""

from __future__ import annotations

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from xcomp.config import ConfigError, RouterConfig, loadConfig
from xcomp.plugin import installedModules, installedPlugins, optionSchemas

MUC = "conference.example.org"


def _load(case: SynchronousTestCase, text: str) -> tuple[str, RouterConfig]:
    """
    Load a configuration with the installed plugins' declared options, as
    C{twistd xcomp} does.
    """
    path = FilePath(case.mktemp())
    path.setContent(text.encode("utf-8"))
    plugins, modules = installedPlugins(), installedModules()
    config = loadConfig(
        path.path, plugins=plugins, modules=modules,
        pluginOptions=optionSchemas(plugins), moduleOptions=optionSchemas(modules),
    )
    return path.path, config


class ConfigFileTests(SynchronousTestCase):
    """
    The options in a Prosody-style file: converted for the plugin, known,
    and refused at their own line.
    """

    BAD = {
        "admins": '{ "not a jid@@" }',
        "component_admins_as_room_owners": '"yes"',
        "restrict_room_creation": '"friends"',
        "max_history_messages": "-1",
        "muc_room_locking": "2",
        "muc_room_lock_timeout": '"soon"',
        "muc_tombstones": '"on"',
        "muc_tombstone_expiry": "-5",
        "muc_room_default_public": '"yes"',
        "muc_room_default_persistent": "{}",
        "muc_room_default_members_only": '"no"',
        "muc_room_default_moderated": "3",
        "muc_room_default_public_jids": '"maybe"',
        "muc_room_default_allow_member_invites": '"x"',
        "muc_room_default_change_subject": "7",
        "muc_room_default_history_length": "1.5",
        "muc_room_default_language": "true",
        "muc_max_nick_length": "0",
        "muc_max_occupants": '"many"',
        "muc_max_rooms": "0",
    }

    def test_badValuesAtTheirLine(self) -> None:
        """
        A refused value of each option is C{file:line: option: why}, at the
        option's own line (not the Component's).
        """
        for name, value in self.BAD.items():
            text = f'Component "{MUC}" "muc"\n  muc_max_rooms = 50\n  {name} = {value}\n'
            error = self.assertRaises(ConfigError, _load, self, text)
            self.assertRegex(str(error), rf"^.*:3: {name}: .+", name)

    def test_globalValueAtItsLine(self) -> None:
        """
        A refused value set in the global section is reported at its line.
        """
        error = self.assertRaises(ConfigError, _load, self, f'restrict_room_creation = "everyone"\n\nComponent "{MUC}" "muc"\n')
        self.assertRegex(str(error), r':1: restrict_room_creation: "everyone" is not false, "admin", "local" or true$')

    def test_converted(self) -> None:
        """
        The component's options hold the converted values, and the defaults
        of what is not set.
        """
        _, config = _load(self, f'Component "{MUC}" "muc"\n  muc_max_rooms = "50"\n  restrict_room_creation = true\n  admins = "Boss@Example.org/x"\n')
        options = config.components[MUC].options
        self.assertEqual(
            (options["muc_max_rooms"], options["restrict_room_creation"], options["admins"], options["muc_tombstone_expiry"]),
            (50, "admin", ("boss@example.org",), 86400 * 31),
        )

    def test_knownNoWarning(self) -> None:
        """
        The declared options are not warned about, under the Component or
        globally, even those without a C{muc_} prefix.
        """
        _, config = _load(self, f'component_admins_as_room_owners = false\nComponent "{MUC}" "muc"\n  muc_tombstone_expiry = 60\n')
        self.assertEqual(config.warnings, ())

    def test_unknownStillWarned(self) -> None:
        """
        An unknown option keeps its warning, with the closest declared name
        as the hint.
        """
        path, config = _load(self, f'Component "{MUC}" "muc"\n  component_admins_as_room_owner = false\n')
        self.assertEqual(
            config.warnings,
            (f"{path}:2: unknown option 'component_admins_as_room_owner' under Component \"{MUC}\" \"muc\" "
             "(did you mean 'component_admins_as_room_owners'?)",),
        )

    def test_moduleOptions(self) -> None:
        """
        C{muc_mam}'s declared options are checked at their line too.
        """
        text = f'Component "{MUC}" "muc"\n  modules_enabled = {{ "muc_mam" }}\n  muc_log_expires_after = "soon"\n'
        error = self.assertRaises(ConfigError, _load, self, text)
        self.assertRegex(str(error), r":3: muc_log_expires_after: ")
