# -*- test-case-name: xcomp.test.test_router -*-
"""
Every zope interface of xcomp, in one place.
"""

from __future__ import annotations

from zope.interface import Attribute, Interface


class IRoute(Interface):
    """
    A destination in the routing table: an external component's stream, an
    internal component, or a host the router answers for itself.
    """

    domain = Attribute("The nameprep'd domain this route was bound for, as a str.")

    def send(stanza):
        """
        Deliver a L{xcomp.stanza.Stanza} the router accepted for this route.

        Must not call back into the router synchronously.
        """


class IStreamRoute(IRoute):
    """
    A route that is one external component's stream.
    """

    peer = Attribute("The remote address as text, for logs.")
    domains = Attribute("Every domain bound to this stream, a frozenset of str.")
    checkFrom = Attribute(
        "Whether the router refuses a 'from' outside L{domains} (invalid-from);"
        " false for trusted streams."
    )

    def close(condition, text=None):
        """
        End the stream with a stream error of the given RFC 6120 condition and
        drop the connection.  No stanza is written to the stream after this.
        """


class IStreamReceiver(Interface):
    """
    What a L{xcomp.stream.StreamParser} reports to.  Every method is called
    from within C{StreamParser.feed}.
    """

    def streamStarted(header):
        """
        The stream header has been parsed.

        @type header: L{xcomp.stream.StreamHeader}
        """

    def stanzaReceived(stanza):
        """
        A complete top-level element has arrived.

        @type stanza: L{xcomp.stanza.Stanza}
        """

    def streamEnded():
        """
        The peer closed its stream (C{</stream:stream>}).
        """

    def streamFailed(condition, text):
        """
        The input broke a rule; the parser will ignore everything after it.

        @param condition: the RFC 6120 stream error condition to answer with
            (C{not-well-formed}, C{restricted-xml}, C{policy-violation},
            C{unsupported-encoding}, ...).
        @param text: a human-readable explanation, or C{None}.
        """


class IRouter(Interface):
    """
    What an internal component may use of the router (L{xcomp.router.Router}).
    """

    reactor = Attribute("The reactor, for timers and for the next-turn delivery.")

    def route(stanza, source=None):
        """
        Deliver a L{xcomp.stanza.Stanza} to the route of its C{to} domain, or
        answer it with the error that says why it cannot be delivered.
        """


class IClusterRoute(Interface):
    """
    The other nodes of a cluster, as the router sees them
    (L{xcomp.cluster}).
    """

    def take(stanza, domain):
        """
        Deliver a L{xcomp.stanza.Stanza} for C{domain}, which has no route
        on this node, to the node it is bound on; C{False} when no other
        node has it (the router then answers as it would alone).  Must not
        call back into the router synchronously.
        """

    def unbound(domain):
        """
        C{domain} no longer has a route on this node.
        """


class IBindGate(Interface):
    """
    What a component stream asks before it binds its domains, when the
    conflict policy is the cluster's and not only this node's.
    """

    def claim(domains, kickOld, balance=False):
        """
        Claim C{domains} (a sequence of str) for this node.  A Deferred that
        fires with C{True} when the stream may bind them, C{False} when
        another node has one of them and the policy keeps it there.

        @param kickOld: the policy is C{kick_old}.
        @param balance: the policy is C{balance}: share the domains with the
            balanced connections of other nodes.
        """


class IInternalComponent(Interface):
    """
    The service a component plugin makes for one C{Component "x" "plugin"}
    (see L{xcomp.internal.InternalComponent}, which implements it).
    It is also an L{twisted.application.service.IService}.
    """

    domain = Attribute("The nameprep'd domain it serves, as a str.")
    route = Attribute(
        "The L{IRoute} the router delivers to; it hands each stanza to the"
        " component on the next reactor turn."
    )


class IOptionType(Interface):
    """
    The type of a plugin's option (L{xcomp.pluginoptions.Integer} and its
    siblings; a plugin may write its own).
    """

    def convert(value):
        """
        Convert a value the configuration file gave (a bool, int, float, str,
        a tuple for a list, a mapping for a table) or that C{convert}
        returned before (converting twice must be harmless).

        @raise ValueError: the value is refused; the text says why, without
            the option's name.
        """

    def describe():
        """
        A few words for C{--list-plugins}: C{"integer 1..3600"}.
        """


class IPluginOption(Interface):
    """
    One option a plugin or module declares (L{xcomp.pluginoptions.PluginOption}).
    """

    name = Attribute("The option's name in the configuration file, a str.")
    type = Attribute("Its L{IOptionType}.")
    default = Attribute("What the plugin gets when the option is not set.")
    doc = Attribute("One line for C{--list-plugins}.")

    def convert(value):
        """
        The value converted by L{type}.

        @raise ValueError: it is refused (the text says why).
        """


class IComponentPlugin(Interface):
    """
    An internal component, found with C{getPlugins(IComponentPlugin)} in a
    C{twisted/plugins/} module and named in the configuration by
    C{Component "conference.example.org" "muc"}.
    """

    name = Attribute("The plugin name the configuration uses, as a str.")
    description = Attribute("One line for C{twistd xcomp --list-plugins}.")
    options = Attribute(
        "The L{IPluginOption}s it declares, a sequence: the configuration"
        " loaders convert them, at the option's own line, and know their names."
    )

    def makeComponent(domain, options, router):
        """
        Build the component for one configured domain.  Must not do I/O:
        anything that needs it happens when the service starts.

        @param domain: the nameprep'd domain.
        @param options: every option visible to the component (its own,
            then the global section's), as a read-only mapping of the values
            the configuration file gave, with each declared option (L{options})
            converted or set to its default; C{data_path}, when set, is absolute.
        @param router: the L{IRouter}.
        @return: an L{IInternalComponent} that is also an C{IService}.
        @raise ValueError: an option has a value the plugin refuses; the text
            says which and why, and is reported with the component's
            C{file:line}.
        """


class IComponentModule(Interface):
    """
    An extension for internal components of some plugins, found with
    C{getPlugins(IComponentModule)} and enabled per component with
    C{modules_enabled = { "muc_mam" }} under its C{Component} line.
    """

    name = Attribute("The module name C{modules_enabled} uses, as a str.")
    description = Attribute("One line for C{twistd xcomp --list-plugins}.")
    components = Attribute("The plugin names whose components it extends, a tuple of str.")
    options = Attribute("The L{IPluginOption}s it declares, as for L{IComponentPlugin}.")

    def attach(component, options):
        """
        Extend a component made by one of the plugins named in
        L{components}, before it starts.  Must not do I/O.

        @param component: what that plugin's C{makeComponent} returned.
        @param options: the component's options, as for C{makeComponent}.
        @raise ValueError: an option has a value the module refuses.
        """


class IRoomStore(Interface):
    """
    Where a multi-user chat service keeps its persistent rooms.  Every
    method returns a L{twisted.internet.defer.Deferred}; writes are applied
    in the order they were made.
    """

    def open():
        """
        Prepare the storage (create or check the schema).  Fires with
        C{None}.
        """

    def close():
        """
        Release the storage once pending writes are done.
        """

    def loadRooms():
        """
        Fire with a list of C{(roomJID, data)}, C{data} being the text that
        L{saveRoom} was given last for that room.
        """

    def saveRoom(room, data):
        """
        Store (replace) a room's state, a text.
        """

    def deleteRoom(room):
        """
        Forget a room's state.
        """


class IArchiveStore(Interface):
    """
    Where a multi-user chat service archives groupchat messages (XEP-0313).
    """

    def append(entries):
        """
        Add L{xcomp.muc.store.ArchiveEntry} records, in order.
        """

    def query(room, query):
        """
        Fire with an L{xcomp.muc.store.ArchivePage} of C{room}'s archive
        matching an L{xcomp.muc.store.ArchiveQuery}.

        @raise xcomp.muc.store.ItemNotFound: (errback) a C{before-id} or
            C{after-id} names no archived message.
        """

    def deleteArchive(room):
        """
        Remove everything archived for C{room}.
        """

    def expire(before):
        """
        Remove every entry archived before the POSIX time C{before}; fire
        with how many were removed.
        """

    def recent(limits, since):
        """
        Fire with the last messages archived for each room: a dict from room
        JID to a list of L{xcomp.muc.store.ArchiveEntry}, oldest first, at
        most C{limits[room]} for each room of the mapping C{limits}, and
        none archived before the POSIX time C{since} (unless C{None}).
        """

    def entry(room, stanzaId):
        """
        One archived message of C{room} by its stanza id: a L{Deferred}
        firing with its L{xcomp.muc.store.ArchiveEntry}, or failing with
        L{xcomp.muc.store.ItemNotFound}.
        """

    def replaceStanza(room, stanzaId, stanza):
        """
        Replace what is kept of one archived message (a XEP-0425
        moderation leaves a tombstone): a L{Deferred} firing with C{None},
        or failing with L{xcomp.muc.store.ItemNotFound}.
        """


class IRoomExtension(Interface):
    """
    What a module such as C{muc_mam} adds to every room of a multi-user chat
    service: the service calls these at the points where Prosody's
    C{muc-*} events fire.  Methods must not call back into the room.
    """

    def configFields(room):
        """
        Extra L{wokkel.data_form.Field}s for the room configuration form,
        showing the room's current values.
        """

    def configure(room, values):
        """
        Apply a submitted configuration form: C{values} maps each field var
        to its submitted value.  Store settings in C{room.extra}.  Return the
        set of status codes (str) to announce.
        """

    def joinStatusCodes(room):
        """
        The status codes (a set of str) an occupant's self-presence gets on
        joining (C{170} while the room is archived).
        """

    def features(room):
        """
        Extra disco#info features (str) of the room.
        """

    def groupchat(room, message, occupant):
        """
        A groupchat message from C{occupant} (an L{xcomp.muc.room.Occupant})
        is about to be broadcast: C{message} is the element occupants will
        receive (without C{to}), which the extension may add children to.

        @raise twisted.words.protocols.jabber.error.StanzaError: refuse the
            message with this error instead.
        """

    def destroyed(room):
        """
        The room was destroyed (by its owner, or on becoming empty while not
        persistent).
        """

    def restore(rooms):
        """
        The persistent C{rooms} (a list) were loaded when the service
        started.  Return a L{twisted.internet.defer.Deferred} that fires
        once the extension has put back what it keeps for them (C{muc_mam}
        refills each room's discussion history from the archive, through
        C{room.history.refill}); stanzas to the service wait until then.
        """


class IServerResolver(Interface):
    """
    Finds where to connect to reach a remote XMPP server (s2s).
    """

    def resolve(domain):
        """
        The addresses to try for C{domain}, best first.

        @return: A L{twisted.internet.defer.Deferred} that fires with a
            non-empty list of L{xcomp.s2s.resolver.Target}, or fails with
            L{xcomp.s2s.resolver.ServerNotFound} (which is bounced as
            C{remote-server-not-found}).
        """
