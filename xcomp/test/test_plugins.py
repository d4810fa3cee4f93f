"""
Tests for L{xcomp.plugin}: discovery of component plugins and modules with
Twisted's plugin system, their use by C{twistd xcomp} and L{RouterService},
and the third-party example in C{examples/xcomp-ping}.
"""

from __future__ import annotations

import io
import subprocess
import sys

from twisted.internet.testing import MemoryReactorClock
from twisted.plugin import IPlugin
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SkipTest, SynchronousTestCase
from zope.interface.verify import verifyObject

import twisted.plugins
from xcomp import plugin
from xcomp.config import ConfigError, InternalComponentConfig, Location, RouterConfig
from xcomp.interfaces import IComponentModule, IComponentPlugin
from xcomp.internal import InternalComponent
from xcomp.plugin import (
    ComponentModule,
    ComponentPlugin,
    DuplicatePluginError,
    buildComponent,
    checkModules,
    installedModules,
    installedPlugins,
)
from xcomp.router import ConflictError
from xcomp.service import RouterService
from xcomp.test.helpers import FakeRoute
from xcomp.tap import Options, makeService

EXAMPLE = FilePath(__file__).parent().parent().sibling("examples").child("xcomp-ping")


def makeTestComponent(domain: str, options: object, router: object) -> InternalComponent:
    """
    A plugin factory for these tests; refuses C{bad = true}.
    """
    if options.get("bad"):  # type: ignore[attr-defined]
        raise ValueError("bad: not today")
    component = InternalComponent(domain, router)  # type: ignore[arg-type]
    component.options = options  # type: ignore[attr-defined]
    return component


def attachTestModule(component: object, options: object) -> None:
    """
    A module for these tests: marks the component.
    """
    component.marked = True  # type: ignore[attr-defined]


TEST_PLUGIN = ComponentPlugin("test", f"{__name__}.makeTestComponent", "for tests")
TEST_MODULE = ComponentModule("mark", ("test",), f"{__name__}.attachTestModule", "marks")
OTHER_MODULE = ComponentModule("other", ("elsewhere",), f"{__name__}.attachTestModule", "")


def internal(domain: str = "t.example", modules: tuple[str, ...] = (), **options: object) -> InternalComponentConfig:
    return InternalComponentConfig(
        domain=domain, plugin="test", modules=modules, options=options, location=Location("x.cfg.lua", 7)
    )


class DiscoveryTests(SynchronousTestCase):
    """
    Plugins and modules are found with C{getPlugins}.
    """

    def test_builtinsFound(self) -> None:
        """
        The built-in C{muc} and C{muc_mam} are found like any plugin, and
        provide the interfaces.
        """
        plugins = installedPlugins()
        modules = installedModules()
        self.assertIn("muc", plugins)
        self.assertEqual(modules["muc_mam"].components, ("muc",))
        for provider in plugins.values():
            self.assertTrue(verifyObject(IComponentPlugin, provider))
            self.assertTrue(IPlugin.providedBy(provider))
        for module in modules.values():
            self.assertTrue(verifyObject(IComponentModule, module))

    def test_pluginFileIsCheap(self) -> None:
        """
        Importing xcomp's plugin file (as every C{twistd} command does)
        imports neither the component nor the router.
        """
        code = (
            "import sys, twisted.plugins.xcomp_plugins; "
            "print(sorted(m for m in sys.modules if m.startswith(('xcomp.', 'wokkel', 'lupa'))))"
        )
        output = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
        ).stdout
        self.assertEqual(output.strip(), "['xcomp.interfaces', 'xcomp.plugin']")

    def test_componentAPI(self) -> None:
        """
        L{xcomp.plugin} lists the names a component is written with in
        C{__all__}, and each is the object of the module it comes from
        (imported on first use, so the plugin file stays cheap).
        """
        from xcomp import _wokkel, errors, internal, logsinks, stanza

        expected = {
            "InternalComponent": internal.InternalComponent,
            "bounce": errors.bounce,
            "Stanza": stanza.Stanza,
            "COMPONENT_NS": stanza.COMPONENT_NS,
            "quoteAttribute": stanza.quoteAttribute,
            "parseElement": stanza.parseElement,
            "Logger": logsinks.Logger,
            "disco": _wokkel.disco,
            "subprotocols": _wokkel.subprotocols,
            "data_form": _wokkel.data_form,
        }
        for name, value in expected.items():
            self.assertIn(name, plugin.__all__)
            self.assertIs(getattr(plugin, name), value)
            self.assertIn(name, dir(plugin))
        for name in plugin.__all__:
            getattr(plugin, name)
        self.assertRaises(AttributeError, getattr, plugin, "nosuch")

    def test_duplicateNames(self) -> None:
        """
        Two different plugins with one name are an error naming both; the
        same plugin found twice counts once.
        """
        clash = ComponentPlugin("test", "elsewhere.make", "")
        self.patch(plugin, "getPlugins", lambda interface: [TEST_PLUGIN, clash, TEST_PLUGIN])
        error = self.assertRaises(DuplicatePluginError, installedPlugins)
        self.assertIn("elsewhere.make", str(error))


class BuildTests(SynchronousTestCase):
    """
    L{buildComponent} and L{checkModules}.
    """

    def test_optionsAndDataPath(self) -> None:
        """
        The plugin gets the component's options, with C{data_path} made
        absolute by the configuration.
        """
        component = buildComponent(internal(x=1), object(), {"test": TEST_PLUGIN}, {}, "/var/lib/x")
        self.assertEqual(dict(component.options), {"x": 1, "data_path": "/var/lib/x"})  # type: ignore[attr-defined]

    def test_moduleAttached(self) -> None:
        """
        Each module in C{modules_enabled} is attached to the component.
        """
        component = buildComponent(internal(modules=("mark",)), object(), {"test": TEST_PLUGIN}, {"mark": TEST_MODULE})
        self.assertTrue(component.marked)  # type: ignore[attr-defined]

    def test_optionRefused(self) -> None:
        """
        A C{ValueError} from the plugin is a configuration error at the
        component's line.
        """
        error = self.assertRaises(
            ConfigError, buildComponent, internal(bad=True), object(), {"test": TEST_PLUGIN}, {}
        )
        self.assertEqual(str(error), 'x.cfg.lua:7: Component "t.example" "test": bad: not today')

    def test_moduleForAnotherPlugin(self) -> None:
        """
        A module that does not extend the component's plugin is a
        configuration error naming what it extends.
        """
        config = RouterConfig(components={"t.example": internal(modules=("other",))})
        error = self.assertRaises(ConfigError, checkModules, config, {"other": OTHER_MODULE})
        self.assertEqual(
            str(error),
            "x.cfg.lua:7: Component \"t.example\" \"test\": module 'other' cannot extend a "
            "'test' component (it extends: 'elsewhere')",
        )

    def test_routerService(self) -> None:
        """
        L{RouterService} makes each internal component a child service and
        routes its domain to it.
        """
        config = RouterConfig(components={"t.example": internal()})
        service = RouterService(config, reactor=MemoryReactorClock(), plugins={"test": TEST_PLUGIN}, modules={})
        component = service.components["t.example"]
        self.assertIs(service.router.lookup("t.example"), component.route)
        self.assertIn(component, list(service))

    def test_notTakenOverByStreams(self) -> None:
        """
        An external stream cannot take an internal component's domain, not
        even with C{kick_old}.
        """
        config = RouterConfig(components={"t.example": internal()})
        service = RouterService(config, reactor=MemoryReactorClock(), plugins={"test": TEST_PLUGIN}, modules={})
        self.assertRaises(ConflictError, service.router.bind, "t.example", FakeRoute("t.example"), kickOld=True)
        self.assertIs(service.router.lookup("t.example"), service.components["t.example"].route)


class CommandLineTests(SynchronousTestCase):
    """
    C{twistd xcomp} and plugins.
    """

    def writeConfig(self, text: str) -> str:
        path = FilePath(self.mktemp())
        path.setContent(text.encode())
        return path.path

    def test_listPlugins(self) -> None:
        """
        C{--list-plugins} prints the installed plugins and modules and
        exits, without needing C{-c}.
        """
        options = Options()
        options.stdout = io.StringIO()
        error = self.assertRaises(SystemExit, options.parseOptions, ["--list-plugins"])
        self.assertEqual(error.code, 0)
        text = options.stdout.getvalue()
        self.assertIn("muc ", text)
        self.assertIn("muc_mam ", text)
        self.assertIn("[extends: muc]", text)

    def test_unknownPlugin(self) -> None:
        """
        C{Component "x" "nosuch"} ends startup with an error at its line
        listing what is installed.
        """
        path = self.writeConfig('\nComponent "c.example" "nosuch"\n')
        error = self.assertRaises(SystemExit, Options().parseOptions, ["-c", path])
        self.assertTrue(str(error.code).startswith(f"{path}:2: "), error.code)
        self.assertIn("installed: muc", str(error.code))

    def test_unknownModule(self) -> None:
        """
        An unknown module in C{modules_enabled} ends startup with an error
        at its line listing the installed modules.
        """
        path = self.writeConfig('Component "c.example" "muc"\n  modules_enabled = { "nosuch" }\n')
        error = self.assertRaises(SystemExit, Options().parseOptions, ["-c", path])
        self.assertTrue(str(error.code).startswith(f"{path}:2: "), error.code)
        self.assertIn("muc_mam", str(error.code))

    def test_makeServiceBuildsMuc(self) -> None:
        """
        A C{muc} component with C{muc_mam} in the file becomes a running
        part of the service tree.
        """
        path = self.writeConfig('Component "conference.example" "muc"\n  modules_enabled = { "muc_mam" }\n')
        options = Options()
        options.parseOptions(["-c", path])
        [service] = list(makeService(options, MemoryReactorClock()))
        component = service.components["conference.example"]
        self.assertEqual(type(component).__name__, "MUCComponent")
        self.assertEqual(len(component.extensions), 1)

    def test_badOptionExits(self) -> None:
        """
        A value a plugin's declared option refuses stops startup with one
        line naming the file, the option's own line and the option.
        """
        path = self.writeConfig('Component "conference.example" "muc"\n  muc_max_rooms = "lots"\n')
        error = self.assertRaises(SystemExit, Options().parseOptions, ["-c", path])
        self.assertEqual(
            str(error.code), f'{path}:2: muc_max_rooms: "lots" is not an integer from 1 to 10000000'
        )

    def test_refusedByPluginExits(self) -> None:
        """
        An option the plugin's factory refuses itself (a C{ValueError})
        stops startup with one line at the component's line.
        """
        path = self.writeConfig('Component "t.example" "test"\n  bad = true\n')
        options = Options()
        self.patch(plugin, "getPlugins", lambda interface, *a: [TEST_PLUGIN] if interface is IComponentPlugin else [])
        options.parseOptions(["-c", path])
        error = self.assertRaises(SystemExit, makeService, options, MemoryReactorClock())
        self.assertEqual(str(error.code), f'{path}:1: Component "t.example" "test": bad: not today')


def installExample(case: SynchronousTestCase) -> None:
    """
    Put a copy of C{examples/xcomp-ping} on the import and plugin paths
    for the duration of a test.
    """
    if not EXAMPLE.exists():
        raise SkipTest("examples/ is not there (not a source checkout)")
    # A copy, so that Twisted's dropin.cache is written there and not
    # into the source tree.
    copy = FilePath(case.mktemp())
    EXAMPLE.copyTo(copy)
    sys.path.insert(0, copy.path)
    pluginDirectory = copy.child("twisted").child("plugins").path
    twisted.plugins.__path__.append(pluginDirectory)

    def restore() -> None:
        sys.path.remove(copy.path)
        twisted.plugins.__path__.remove(pluginDirectory)
        for name in [m for m in sys.modules if m.startswith(("xcomp_ping", "twisted.plugins.xcomp_ping"))]:
            del sys.modules[name]

    case.addCleanup(restore)


class ThirdPartyExampleTests(SynchronousTestCase):
    """
    C{examples/xcomp-ping}, a plugin packaged on its own, is found by
    Twisted's plugin system next to the built-in ones and works with the
    harness L{xcomp.testing} exports.
    """

    def setUp(self) -> None:
        installExample(self)

    def test_foundWithBuiltins(self) -> None:
        """
        C{ping} is installed alongside C{muc}.
        """
        plugins = installedPlugins()
        self.assertEqual({"muc", "ping"} - set(plugins), set())
        self.assertTrue(verifyObject(IComponentPlugin, plugins["ping"]))

    def test_examplesOwnTests(self) -> None:
        """
        The example's own tests (which use L{xcomp.testing}) pass.
        """
        from twisted.trial import reporter, runner

        suite = runner.TestLoader().loadByName("xcomp_ping.test.test_component", recurse=True)
        result = reporter.TestResult()
        suite.run(result)
        self.assertEqual((result.errors, result.failures), ([], []))
        self.assertEqual(result.successes, 5)

    def test_configured(self) -> None:
        """
        C{Component "ping.example" "ping"} loads and builds.
        """
        path = FilePath(self.mktemp())
        path.setContent(b'Component "ping.example" "ping"\n  name = "Pong"\n')
        options = Options()
        options.parseOptions(["-c", path.path])
        [service] = list(makeService(options, MemoryReactorClock()))
        self.assertIn("ping.example", service.components)
