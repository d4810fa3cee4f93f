"""
Tests for L{xcomp.config.prosody.hosts} and L{xcomp.config.domains}: host
names, external and internal components.
"""

from __future__ import annotations

import os

from xcomp.config import ComponentConfig, InternalComponentConfig, Location, TLSConfig
from xcomp.test.test_config import _ConfigTestCase


class DomainTests(_ConfigTestCase):
    """
    Host names, and duplicates.
    """

    def test_nameprep(self) -> None:
        """
        Component and VirtualHost names are nameprep'd: lowercase and
        normalised, trailing dot removed.
        """
        config = self.load(
            'component_secret = "s"\nComponent "Gateway.EXAMPLE.org"\n'
            'Component "\uff42\uff4f\uff54.example.org."\nVirtualHost "Example.ORG"\n'
        )
        self.assertEqual(sorted(config.components), ["bot.example.org", "gateway.example.org"])
        self.assertEqual(list(config.virtualHosts), ["example.org"])

    def test_invalidDomain(self) -> None:
        """
        A name that cannot be a JID domain is an error.
        """
        self.assertEqual(
            self.fails('\nComponent "user@example.org"\n'),
            self.at(
                2,
                'Component "user@example.org" is not a valid domain: invalid character \'@\'',
            ),
        )

    def test_emptyLabel(self) -> None:
        """
        A name with an empty label is an error.
        """
        self.assertEqual(
            self.fails('VirtualHost "a..org"\n'),
            self.at(1, 'VirtualHost "a..org" is not a valid domain: it has an empty label'),
        )

    def test_emptyDomain(self) -> None:
        """
        An empty name is an error.
        """
        self.assertEqual(
            self.fails('Component ""\n'),
            self.at(1, 'Component "" is not a valid domain: the domain is empty'),
        )

    def test_noName(self) -> None:
        """
        C{Component} without a name is an error.
        """
        self.assertEqual(self.fails("Component()\n"), self.at(1, "Component must have a name"))

    def test_nameNotString(self) -> None:
        """
        A name that is not a string is an error.
        """
        self.assertEqual(
            self.fails("VirtualHost(5)\n"),
            self.at(1, "VirtualHost name must be a string, not a number"),
        )

    def test_duplicateComponent(self) -> None:
        """
        The same Component twice (after nameprep) is an error at the second.
        """
        self.assertEqual(
            self.fails('Component "a.org"\n  component_secret = "s"\nComponent "A.org"\n'),
            self.at(3, f'Component "a.org" is already defined at {self.path}:1'),
        )

    def test_duplicateVirtualHost(self) -> None:
        """
        The same VirtualHost twice is one host, as in Prosody 0.12, which
        re-enters its section (Debian's own prosody.cfg.lua declares
        VirtualHost "localhost", and so does its conf.d/localhost.cfg.lua):
        the options of both blocks, the location of the first.
        """
        config = self.load('VirtualHost "a.org"\n  name = "A"\nVirtualHost "A.org"\n  disco_hidden = true\n')
        self.assertEqual(list(config.virtualHosts), ["a.org"])
        host = config.virtualHosts["a.org"]
        self.assertEqual((host.name, host.location), ("A", Location(self.path, 1)))
        self.assertIs(host.options["disco_hidden"], True)

    def test_componentClashesWithVirtualHost(self) -> None:
        """
        A Component named like a VirtualHost is an error.
        """
        self.assertEqual(
            self.fails('VirtualHost "a.org"\nComponent "a.org"\n'),
            self.at(
                2,
                f'Component "a.org" clashes with VirtualHost "a.org" defined at '
                f"{self.path}:1; for services use a sub-domain like conference.a.org",
            ),
        )

    def test_virtualHostClashesWithComponent(self) -> None:
        """
        A VirtualHost named like a Component is an error.
        """
        self.assertEqual(
            self.fails('Component "a.org" { component_secret = "s" }\nVirtualHost "a.org"\n'),
            self.at(
                2,
                f'VirtualHost "a.org" clashes with Component "a.org" defined at '
                f"{self.path}:1; for services use a sub-domain like conference.a.org",
            ),
        )


class ComponentTests(_ConfigTestCase):
    """
    External components and their options.
    """

    def test_defaults(self) -> None:
        """
        An external component with only a secret gets the defaults.
        """
        config = self.load('Component "a.org"\n  component_secret = "s"\n')
        self.assertEqual(
            self.component(config, "a.org"),
            ComponentConfig(
                domain="a.org",
                secret="s",
                name=None,
                discoHidden=False,
                validateFrom=True,
                conflictResolve="kick_new",
                stanzaSizeLimit=512 * 1024,
                tls=None,
                options={},
                location=Location(self.path, 1),
            ),
        )

    def test_globalSecret(self) -> None:
        """
        A global C{component_secret} is every component's default.
        """
        config = self.load('component_secret = "g"\nComponent "a.org"\n')
        self.assertEqual(self.component(config, "a.org").secret, "g")

    def test_noSecret(self) -> None:
        """
        A Component with no secret, here or global, is an error at its line.
        """
        self.assertEqual(
            self.fails('admins = {}\nComponent "a.org"\n  name = "A"\n'),
            self.at(
                2,
                'Component "a.org": no component_secret is set for this component '
                "or in the global section",
            ),
        )

    def test_emptySecret(self) -> None:
        """
        An empty secret is an error at its line.
        """
        self.assertEqual(
            self.fails('Component "a.org"\n  component_secret = ""\n'),
            self.at(2, 'Component "a.org": component_secret: the secret is empty'),
        )

    def test_secretNotString(self) -> None:
        """
        A secret that is not a string is an error that does not show it.
        """
        self.assertEqual(
            self.fails('Component "a.org"\n  component_secret = { "hidden-value", "x" }\n'),
            self.at(2, 'Component "a.org": component_secret: expected a string, not a table'),
        )

    def test_numericSecret(self) -> None:
        """
        A number as the secret is its text, as Prosody reads it.
        """
        config = self.load('Component "a.org"\n  component_secret = 12345\n')
        self.assertEqual(self.component(config, "a.org").secret, "12345")

    def test_name(self) -> None:
        """
        C{name} sets the component's disco name.
        """
        config = self.load('component_secret = "s"\nComponent "a.org"\n  name = "Gateway"\n')
        self.assertEqual(self.component(config, "a.org").name, "Gateway")

    def test_nameInvalid(self) -> None:
        """
        A C{name} that is not text is an error.
        """
        self.assertEqual(
            self.fails('component_secret = "s"\nComponent "a.org"\n  name = { a = 1 }\n'),
            self.at(3, 'Component "a.org": name: a table is not a string'),
        )

    def test_discoHidden(self) -> None:
        """
        C{disco_hidden = true} hides the component.
        """
        config = self.load('component_secret = "s"\nComponent "a.org"\n  disco_hidden = true\n')
        self.assertTrue(self.component(config, "a.org").discoHidden)

    def test_discoHiddenInvalid(self) -> None:
        """
        A C{disco_hidden} that is not a boolean is an error.
        """
        self.assertEqual(
            self.fails('component_secret = "s"\nComponent "a.org"\n  disco_hidden = "maybe"\n'),
            self.at(3, 'Component "a.org": disco_hidden: "maybe" is not true or false'),
        )

    def test_validateFrom(self) -> None:
        """
        C{validate_from_addresses = false} turns the check off; Prosody's
        spellings C{"false"} and 0 work too.
        """
        for value in ("false", '"false"', "0"):
            config = self.load(
                f'component_secret = "s"\nComponent "a.org"\n  validate_from_addresses = {value}\n'
            )
            self.assertFalse(self.component(config, "a.org").validateFrom)

    def test_validateFromGlobal(self) -> None:
        """
        A global C{validate_from_addresses} applies to every component.
        """
        config = self.load(
            'component_secret = "s"\nvalidate_from_addresses = false\nComponent "a.org"\n'
        )
        self.assertFalse(self.component(config, "a.org").validateFrom)

    def test_conflictResolve(self) -> None:
        """
        C{component_conflict_resolve = "kick_old"} is read.
        """
        config = self.load(
            'component_secret = "s"\nComponent "a.org"\n  component_conflict_resolve = "kick_old"\n'
        )
        self.assertEqual(self.component(config, "a.org").conflictResolve, "kick_old")

    def test_conflictResolveInvalid(self) -> None:
        """
        Another C{component_conflict_resolve} is an error, also in the global
        section when no component uses it.
        """
        self.assertEqual(
            self.fails('\ncomponent_conflict_resolve = "kick_both"\n'),
            self.at(2, 'component_conflict_resolve: "kick_both" is not one of "kick_new", "kick_old", "balance"'),
        )

    def test_stanzaSizeLimit(self) -> None:
        """
        C{component_stanza_size_limit} is read per component, with the global
        value as default and as L{RouterConfig.stanzaSizeLimit}.
        """
        config = self.load(
            'component_secret = "s"\ncomponent_stanza_size_limit = 10000\n'
            'Component "a.org"\n  component_stanza_size_limit = 2000\nComponent "b.org"\n'
        )
        self.assertEqual(config.stanzaSizeLimit, 10000)
        self.assertEqual(self.component(config, "a.org").stanzaSizeLimit, 2000)
        self.assertEqual(self.component(config, "b.org").stanzaSizeLimit, 10000)

    def test_stanzaSizeLimitDefault(self) -> None:
        """
        Without the option the limit is 512 KiB, or C{s2s_stanza_size_limit}
        when set, as in Prosody's mod_component.
        """
        self.assertEqual(self.load("").stanzaSizeLimit, 512 * 1024)
        self.assertEqual(self.load("s2s_stanza_size_limit = 4096\n").stanzaSizeLimit, 4096)

    def test_stanzaSizeLimitInvalid(self) -> None:
        """
        A limit that is not a positive integer is an error.
        """
        self.assertEqual(
            self.fails("component_stanza_size_limit = 0\n"),
            self.at(1, "component_stanza_size_limit: 0 is not an integer of at least 1"),
        )
        self.assertEqual(
            self.fails('component_stanza_size_limit = "big"\n'),
            self.at(1, 'component_stanza_size_limit: "big" is not an integer of at least 1'),
        )

    def test_tls(self) -> None:
        """
        C{ssl} under a component gives its certificate and key, relative
        paths resolved against the configuration's directory, and LuaSec's
        C{protocol} the versions allowed.
        """
        config = self.load(
            'component_secret = "s"\nComponent "a.org"\n'
            '  ssl = { certificate = "certs/a.crt"; key = "/etc/a.key"; protocol = "tlsv1_2+" }\n'
        )
        self.assertEqual(
            self.component(config, "a.org").tls,
            TLSConfig(
                os.path.abspath(os.path.join(self.directory, "certs/a.crt")),
                "/etc/a.key",
                versions=("tlsv1.2", "tlsv1.3"),
            ),
        )

    def test_tlsWithoutCertificate(self) -> None:
        """
        An C{ssl} table with settings but no certificate gives no TLS.
        """
        config = self.load('component_secret = "s"\nssl = { protocol = "tlsv1_2+" }\nComponent "a.org"\n')
        self.assertIsNone(self.component(config, "a.org").tls)

    def test_tlsWithoutKey(self) -> None:
        """
        A certificate without a key is an error.
        """
        self.assertEqual(
            self.fails('Component "a.org" { component_secret = "s"; ssl = { certificate = "a" } }\n'),
            self.at(1, 'Component "a.org": ssl: key must be set to a file name'),
        )

    def test_options(self) -> None:
        """
        A component's options are the global ones merged with its own,
        without the secret.
        """
        config = self.load(
            'component_secret = "s"\ncontact_info = { abuse = { "a" } }\nname = "g"\n'
            'Component "a.org"\n  name = "A"\n  muc_whatever = true\n'
        )
        options = self.component(config, "a.org").options
        self.assertEqual(set(options), {"contact_info", "name", "muc_whatever"})
        self.assertEqual((options["name"], options["muc_whatever"]), ("A", True))

    def test_externalModule(self) -> None:
        """
        C{Component "x" "component"} is an external component, as in Prosody,
        and its C{modules_enabled} is ignored.
        """
        config = self.load(
            'Component "a.org" "component"\n  component_secret = "s"\n'
            '  modules_enabled = { "nosuch" }\n'
        )
        self.assertEqual(config.warnings, ())
        self.assertIsInstance(config.components["a.org"], ComponentConfig)

    def test_disabled(self) -> None:
        """
        A component with C{enabled = false} is left out (and not checked), as
        Prosody does not start it.
        """
        config = self.load('Component "a.org"\n  enabled = false\nVirtualHost "b.org"\n')
        self.assertEqual(dict(config.components), {})
        self.assertEqual(list(config.virtualHosts), ["b.org"])

    def test_disabledGlobally(self) -> None:
        """
        A global C{enabled = false} disables every host that does not enable
        itself.
        """
        config = self.load(
            'enabled = false\ncomponent_secret = "s"\nComponent "a.org"\n'
            'Component "b.org"\n  enabled = true\n'
        )
        self.assertEqual(list(config.components), ["b.org"])


class InternalComponentTests(_ConfigTestCase):
    """
    C{Component "x" "plugin"}.
    """

    def test_internalComponent(self) -> None:
        """
        A plugin component gets its plugin, its own modules and its options.
        """
        config = self.load(
            'modules_enabled = { "disco" }\n'
            'Component "conference.example.org" "muc"\n'
            '  modules_enabled = { "muc_mam" }\n  name = "Rooms"\n  disco_hidden = true\n',
            plugins=["muc"],
            modules=["muc_mam"],
        )
        self.assertEqual(
            config.components["conference.example.org"],
            InternalComponentConfig(
                domain="conference.example.org",
                plugin="muc",
                modules=("muc_mam",),
                name="Rooms",
                discoHidden=True,
                options=config.components["conference.example.org"].options,
                location=Location(self.path, 2),
            ),
        )

    def test_noGlobalModules(self) -> None:
        """
        An internal component does not inherit the global C{modules_enabled}.
        """
        config = self.load(
            'modules_enabled = { "disco" }\nComponent "c.org" "muc"\n', plugins=["muc"]
        )
        component = config.components["c.org"]
        assert isinstance(component, InternalComponentConfig)
        self.assertEqual(component.modules, ())

    def test_tableForm(self) -> None:
        """
        C{Component "x" "plugin" { ... }} sets the component's options.
        """
        config = self.load(
            'Component "c.org" "muc" { modules_enabled = { "muc_mam" } }\n',
            plugins=["muc"],
            modules=["muc_mam"],
        )
        component = config.components["c.org"]
        assert isinstance(component, InternalComponentConfig)
        self.assertEqual(component.modules, ("muc_mam",))

    def test_unknownPlugin(self) -> None:
        """
        A plugin that is not installed is an error listing what is.
        """
        self.assertEqual(
            self.fails('\nComponent "c.org" "nosuch"\n', plugins=["muc", "echo"]),
            self.at(
                2,
                'Component "c.org" "nosuch": there is no component plugin "nosuch" '
                "(installed: echo, muc)",
            ),
        )

    def test_noPluginsInstalled(self) -> None:
        """
        With no plugins installed, every plugin name is an error saying so.
        """
        self.assertEqual(
            self.fails('Component "c.org" "muc"\n'),
            self.at(
                1,
                'Component "c.org" "muc": there is no component plugin "muc" '
                "(no component plugins are installed)",
            ),
        )

    def test_unknownModule(self) -> None:
        """
        A module in an internal component's C{modules_enabled} that is not
        installed is an error at that option.
        """
        self.assertEqual(
            self.fails(
                'Component "c.org" "muc"\n  name = "x"\n  modules_enabled = { "muc_mam" }\n',
                plugins=["muc"],
            ),
            self.at(
                3,
                'Component "c.org" "muc": modules_enabled: module "muc_mam" is not '
                "installed (no component modules are installed)",
            ),
        )
