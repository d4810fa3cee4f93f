-- xcomp example configuration
--
-- This is an ordinary Prosody configuration file: xcomp reads the parts that
-- concern external components (XEP-0114) and accepts, without complaint, the
-- options only Prosody uses.  The same file passes
--     prosodyctl --config prosody.cfg.lua check config
-- and loads in xcomp with
--     twistd -n xcomp -c prosody.cfg.lua
--
-- Lists are written { "like", "this" }; either commas or semicolons may
-- separate the items.  A line starting with -- is a comment.

---------- Server-wide settings ----------
-- Settings in this section apply to the whole server and are the defaults
-- for every VirtualHost and Component below.

-- Accounts with admin rights on the server (Prosody only).
admins = { }

-- Modules Prosody loads for every VirtualHost.  Components do not inherit
-- this list, and xcomp does not use it.
modules_enabled = {
	"disco"; -- Service discovery: lists the components below
	"roster"; -- Contact lists
	"saslauth"; -- Authentication for clients
	"tls"; -- TLS on client and server connections
	"dialback"; -- Verifying remote servers using DNS
	"ping"; -- Replies to XMPP pings with pongs
}

-- Where xcomp's log messages go.  Without this option xcomp logs where twistd
-- does (stdout with -n, otherwise twistd.log or --logfile).  It takes every
-- form of Prosody's own "log" (which xcomp leaves to Prosody, as it leaves
-- "pidfile": a file shared with a running Prosody stays Prosody's), adding
-- more destinations: a file name, "*console", "*syslog", or levels such as
--     xcomp_log = { info = "/var/log/xcomp/xcomp.log"; error = "*syslog"; }
-- and xcomp's own pidfile, besides twistd's --pidfile:
--     xcomp_pidfile = "/run/xcomp/xcomp.pid"

-- The port(s) external components connect to (5347 is the usual one), and
-- the address(es) to listen on.  Components authenticate with a shared
-- secret sent unencrypted, so keep the listener on the loopback interface
-- unless the network in between is trusted.
component_ports = { 5347 }
component_interfaces = { "127.0.0.1" }

-- What to do when a second connection claims a component's domain while the
-- first is still connected: "kick_new" refuses the newcomer (the default),
-- "kick_old" replaces the old connection.
component_conflict_resolve = "kick_new"

-- Several xcomp nodes acting as one router meet in a Redis (README:
-- "Cluster"; examples/cluster/ is a two-node setup).  Uncomment on each
-- node, with its own cluster_node:
--     cluster_redis = "redis://127.0.0.1:6379/0"
--     cluster_node = "a"

---------- Virtual hosts ----------
-- The server's own domain.  The components below are sub-domains of it, so
-- service discovery on example.org lists them.
VirtualHost "example.org"

---------- Components ----------
-- External components: each connects to component_ports and proves it knows
-- its component_secret.  Use a long random secret, different per component,
-- and the same in the component's own configuration.

-- A gateway to another network.  "name" is what service discovery shows.
Component "gateway.example.org"
	component_secret = "change-me-gateway-secret"
	name = "Example gateway"

-- A bot.  disco_hidden keeps it out of example.org's service discovery;
-- it can still be addressed directly.
Component "bot.example.org"
	component_secret = "change-me-bot-secret"
	disco_hidden = true

-- Multi-user chat (XEP-0045), run inside xcomp by its built-in "muc"
-- plugin, as Prosody runs its own mod_muc.  muc_mam archives the rooms
-- (XEP-0313).  Persistent rooms and archives are kept in data_path (a
-- global option); without it xcomp keeps them in memory only.
Component "conference.example.org" "muc"
	name = "Example chatrooms"
	modules_enabled = { "muc_mam" }
	restrict_room_creation = false
	max_history_messages = 20
	muc_log_expires_after = "1w"
